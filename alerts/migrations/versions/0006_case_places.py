"""One problem, one case: image spots for fixed cameras, the best snapshot, quiet rejected places, linked
re-opened places, and the kind of each sighting (seen, suppressed, seen clear).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOX = ("spot_x1", "spot_y1", "spot_x2", "spot_y2")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for name in _BOX:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("snapshot_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("previous_case_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("suppressed", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_cases_camera_open", "cases", ["camera_id", "category", "is_open"])
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="seen"))
        batch.add_column(sa.Column("snapshot_score", sa.Float(), nullable=True))
        for name in _BOX:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        for name in (*_BOX, "snapshot_score", "kind"):
            batch.drop_column(name)
    op.drop_index("ix_cases_camera_open", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        for name in ("suppressed", "previous_case_id", "snapshot_score", *_BOX):
            batch.drop_column(name)
