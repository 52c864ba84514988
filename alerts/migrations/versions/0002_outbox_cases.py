"""Delivery without loss (outbox, inbox) and the case workflow (cases, sightings, audit log, queries, departments).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types only (no imports from alerts.models): a migration must not change when the models do.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

DEPARTMENTS = [
    ("civil_affairs", "民政", "civil affairs"),
    ("urban_management", "城管", "urban management"),
    ("market_regulation", "市场监管", "market regulation"),
]

_FIGURE_COLUMNS = [
    "status", "registered_at", "dispatched_at", "escalated_at", "handled_at", "closed_on_time", "rework_count",
    "due_at", "deadline_at", "response_seconds",
]

# The audit log is append-only: the database itself refuses to change or remove a row.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only: rows cannot be updated'); END""",
    """CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only: rows cannot be deleted'); END""",
]
_PG_TRIGGERS = [
    """CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'case_events is append-only: rows cannot be %', lower(TG_OP) || 'd'; END $$""",
    """CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
       FOR EACH ROW EXECUTE FUNCTION case_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "alert_id", sa.String(32), sa.ForeignKey("alerts.id", name="fk_outbox_alert", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stream", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("stream_id", sa.String(48), nullable=True),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.UniqueConstraint("alert_id", name="uq_outbox_alert_id"),
    )
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"])
    op.create_index("ix_outbox_confirmed_at", "outbox", ["confirmed_at"])

    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", _TS, nullable=False),
    )

    op.create_table(
        "departments",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=True),
    )
    departments = sa.table("departments", sa.column("code"), sa.column("name"), sa.column("name_en"))
    op.bulk_insert(departments, [{"code": c, "name": n, "name_en": e} for c, n, e in DEPARTMENTS])

    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("community_code", sa.String(32), nullable=True),
        sa.Column("office_code", sa.String(32), nullable=True),
        sa.Column("routed_by_fallback", sa.Boolean(), nullable=False),
        sa.Column("assignee_grid", sa.String(32), nullable=True),
        sa.Column(
            "department", sa.String(32), sa.ForeignKey("departments.code", name="fk_cases_department"), nullable=True
        ),
        sa.Column("assignee_staff", sa.String(100), nullable=True),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("last_camera_id", sa.String(64), nullable=True),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("snapshot_path", sa.String(255), nullable=True),
        sa.Column("reported_at", _TS, nullable=False),
        sa.Column("verified_at", _TS, nullable=True),
        sa.Column("verify_seconds", sa.Integer(), nullable=True),
        sa.Column("registered_at", _TS, nullable=True),
        sa.Column("dispatched_at", _TS, nullable=True),
        sa.Column("dispatch_seconds", sa.Integer(), nullable=True),
        sa.Column("response_seconds", sa.Integer(), nullable=True),
        sa.Column("escalated_at", _TS, nullable=True),
        sa.Column("escalated_from", sa.String(32), nullable=True),
        sa.Column("escalation_due_at", _TS, nullable=True),
        sa.Column("handled_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("closed_on_time", sa.Boolean(), nullable=True),
        sa.Column("dropped_at", _TS, nullable=True),
        sa.Column("drop_reason", sa.String(32), nullable=True),
        sa.Column("due_at", _TS, nullable=True),
        sa.Column("deadline_at", _TS, nullable=True),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("merged_into", sa.String(32), sa.ForeignKey("cases.id", name="fk_cases_merged"), nullable=True),
        sa.Column("possibly_resolved_at", _TS, nullable=True),
        sa.Column("feedback_note", sa.Text(), nullable=True),
        sa.Column("feedback_photo", sa.String(255), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
    )
    # Dedup looks for open cases of one category in a latitude band; figures filter a subtree and a period.
    # The office and period indexes cover every column the figures read, so those queries never touch the
    # table (on a million cases: 4-10 times faster, for about a third more disk).
    op.create_index("ix_cases_dedup", "cases", ["category", "is_open", "lat"])
    op.create_index("ix_cases_office_cover", "cases", ["office_code", "reported_at", *_FIGURE_COLUMNS])
    op.create_index("ix_cases_period_cover", "cases",
                    ["reported_at", "office_code", "community_code", "grid_code", *_FIGURE_COLUMNS])
    op.create_index("ix_cases_community_reported", "cases", ["community_code", "reported_at"])
    op.create_index("ix_cases_grid_reported", "cases", ["grid_code", "reported_at"])
    op.create_index("ix_cases_assignee_status", "cases", ["assignee_grid", "status"])
    op.create_index("ix_cases_open_deadline", "cases", ["is_open", "deadline_at"])

    op.create_table(
        "sightings",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", name="fk_sightings_case"), nullable=False),
        sa.Column("alert_id", sa.String(32), sa.ForeignKey("alerts.id", name="fk_sightings_alert"), nullable=True),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("seen_at", _TS, nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("snapshot_path", sa.String(255), nullable=True),
        sa.Column("clip_path", sa.String(255), nullable=True),
        sa.Column("new_pass", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("alert_id", name="uq_sightings_alert_id"),
    )
    op.create_index("ix_sightings_case_id", "sightings", ["case_id"])

    op.create_table(
        "case_events",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", name="fk_case_events_case"), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("actor_grid", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    bind = op.get_bind()
    for ddl in _PG_TRIGGERS if bind.dialect.name == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(ddl)

    op.create_table(
        "case_queries",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", name="fk_case_queries_case"), nullable=False),
        sa.Column("filed_at", _TS, nullable=False),
        sa.Column("filed_by", sa.String(100), nullable=False),
        sa.Column("filed_role", sa.String(24), nullable=False),
        sa.Column("filed_grid", sa.String(32), nullable=True),
        sa.Column("to_grid", sa.String(32), nullable=False),
        sa.Column("missed_deadline", _TS, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("answered_by", sa.String(100), nullable=True),
        sa.Column("answered_role", sa.String(24), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
    )
    op.create_index("ix_case_queries_case_id", "case_queries", ["case_id"])
    op.create_index("ix_case_queries_to_grid", "case_queries", ["to_grid"])


def downgrade() -> None:
    op.drop_table("case_queries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_change ON case_events")
        op.execute("DROP FUNCTION IF EXISTS case_events_append_only()")
    op.drop_table("case_events")
    op.drop_table("sightings")
    op.drop_table("cases")
    op.drop_table("departments")
    op.drop_table("inbox")
    op.drop_table("outbox")
