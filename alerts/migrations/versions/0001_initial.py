"""Initial schema: the grid map and the alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain types only (no imports from alerts.models): a migration must not change when the models do.
    op.create_table(
        "grids",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_code", sa.String(32), sa.ForeignKey("grids.code", name="fk_grids_parent"), nullable=True),
        sa.Column("leader", sa.String(100), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="ck_grids_level"),
    )
    op.create_index("ix_grids_level", "grids", ["level"])
    op.create_index("ix_grids_parent_code", "grids", ["parent_code"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column(
            "grid_code",
            sa.String(32),
            sa.ForeignKey("grids.code", name="fk_alerts_grid", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("snapshot_path", sa.String(255), nullable=True),
        sa.Column("bbox_x1", sa.Float(), nullable=False),
        sa.Column("bbox_y1", sa.Float(), nullable=False),
        sa.Column("bbox_x2", sa.Float(), nullable=False),
        sa.Column("bbox_y2", sa.Float(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", name="uq_alerts_event_id"),
    )
    op.create_index("ix_alerts_detected_at", "alerts", ["detected_at"])
    op.create_index("ix_alerts_camera_id", "alerts", ["camera_id"])
    op.create_index("ix_alerts_grid_code", "alerts", ["grid_code"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("grids")
