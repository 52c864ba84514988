"""Learning from verdicts: what the pipeline saw for each alert, operators' verdicts with it, trained verdict
filters, and each case's filter score and lane (the wall or the desk's low-priority lane).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types only (no imports from alerts.models): a migration must not change when the models do.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("likely_real", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lane", sa.String(8), nullable=False, server_default="wall"))
    op.create_index("ix_cases_lane_status", "cases", ["lane", "status"])
    op.create_table(
        "alert_evidence",
        sa.Column("alert_id", sa.String(32), sa.ForeignKey("alerts.id", name="fk_alert_evidence_alert",
                                                           ondelete="CASCADE"), primary_key=True),
        sa.Column("crop_path", sa.String(255), nullable=True),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("keypoints", sa.Text(), nullable=False),
        sa.Column("nearby", sa.Text(), nullable=False),
        sa.Column("likely_real", sa.Float(), nullable=True),
        sa.Column("filter_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "verdicts",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", name="fk_verdicts_case"), nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=True),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("real", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("snapshot_path", sa.String(255), nullable=True),
        sa.Column("crop_path", sa.String(255), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("keypoints", sa.Text(), nullable=False),
        sa.Column("nearby", sa.Text(), nullable=False),
        sa.Column("likely_real", sa.Float(), nullable=True),
    )
    op.create_index("ix_verdicts_case_id", "verdicts", ["case_id"])
    op.create_index("ix_verdicts_category_at", "verdicts", ["category", "at"])
    op.create_table(
        "verdict_filters",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=False),
        sa.Column("held_apart", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
    )
    op.create_index("ix_verdict_filters_category", "verdict_filters", ["category"])


def downgrade() -> None:
    op.drop_table("verdict_filters")
    op.drop_index("ix_verdicts_category_at", table_name="verdicts")
    op.drop_index("ix_verdicts_case_id", table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_table("alert_evidence")
    op.drop_index("ix_cases_lane_status", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("lane")
        batch.drop_column("likely_real")
