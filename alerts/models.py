"""Database tables of GridWatch: the grid map and the stored alerts (SQLAlchemy 2 typed declarative).

Only alerts.repository queries these; the migration in alerts/migrations/versions is the schema of record.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zone type, so there the value is stored as naive UTC and given its zone back on read;
    PostgreSQL stores ``timestamptz`` and may answer in the session's zone, which is converted to UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: GridWatch stores UTC-aware times only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class GridRow(Base):
    """One polygon of the grid map: a sub-district office (1), a community (2) or a grid (3)."""

    __tablename__ = "grids"
    __table_args__ = (sa.CheckConstraint("level BETWEEN 1 AND 3", name="ck_grids_level"),)

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[int] = mapped_column(sa.SmallInteger, index=True)
    parent_code: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("grids.code", name="fk_grids_parent"), index=True
    )
    leader: Mapped[str | None] = mapped_column(sa.String(100))
    geometry: Mapped[str] = mapped_column(sa.Text)  # GeoJSON geometry object as JSON text
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class AlertRow(Base):
    """One stored issue event; ``event_id`` is unique so a replayed event is never stored twice."""

    __tablename__ = "alerts"
    __table_args__ = (sa.UniqueConstraint("event_id", name="uq_alerts_event_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # uuid4 hex
    event_id: Mapped[str] = mapped_column(sa.String(128))
    camera_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    category: Mapped[str] = mapped_column(sa.String(8))
    confidence: Mapped[float] = mapped_column(sa.Float)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    # SET NULL: re-importing a map without a grid keeps that grid's old alerts (they just lose the link).
    grid_code: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("grids.code", name="fk_alerts_grid", ondelete="SET NULL"), index=True
    )
    snapshot_path: Mapped[str | None] = mapped_column(sa.String(255))  # relative to the media folder, "/"-separated
    bbox_x1: Mapped[float] = mapped_column(sa.Float)
    bbox_y1: Mapped[float] = mapped_column(sa.Float)
    bbox_x2: Mapped[float] = mapped_column(sa.Float)
    bbox_y2: Mapped[float] = mapped_column(sa.Float)
    track_id: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity for the tables that grow.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxRow(Base):
    """An alert waiting to be published on a Redis Stream, written in the same transaction as the alert.

    ``sent_at`` is set once the stream accepted it (``stream_id`` is the entry's id); ``confirmed_at`` once the
    consuming group is known to have processed it, after which the relay never looks at it again.
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.UniqueConstraint("alert_id", name="uq_outbox_alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("alerts.id", name="fk_outbox_alert", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[str] = mapped_column(sa.Text)  # the stream entry's fields as a JSON object
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    stream_id: Mapped[str | None] = mapped_column(sa.String(48))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InboxRow(Base):
    """A message a consumer group has processed: the idempotency record written with the group's own effects."""

    __tablename__ = "inbox"

    consumer_group: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # the alert id
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class DepartmentRow(Base):
    """A functional department a case can be dispatched to (民政, 城管, 市场监管 ...)."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(100))


# What alerts.figures and alerts.assessment read of a case, besides where and when it was reported.
FIGURE_COLUMNS = (
    "status", "registered_at", "dispatched_at", "escalated_at", "handled_at", "closed_on_time", "rework_count",
    "due_at", "deadline_at", "response_seconds",
)


class CaseRow(Base):
    """One street problem, however many times and by however many cameras it was seen.

    The grid columns are where the problem is (its level-3 grid and that grid's community and office, or the
    fallback grid): figures for a subtree filter on one of them. ``assignee_grid`` is who must act now, which
    escalation moves up. Milestone times are kept here (first dispatch, latest escalation ...) so figures are
    single-table queries; the full history is in ``case_events``.
    """

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_dedup", "category", "is_open", "lat"),
        # Covering indexes: the figures of an office or of the whole territory for a period read only these.
        sa.Index("ix_cases_office_cover", "office_code", "reported_at", *FIGURE_COLUMNS),
        sa.Index("ix_cases_period_cover", "reported_at", "office_code", "community_code", "grid_code",
                 *FIGURE_COLUMNS),
        sa.Index("ix_cases_community_reported", "community_code", "reported_at"),
        sa.Index("ix_cases_grid_reported", "grid_code", "reported_at"),
        sa.Index("ix_cases_assignee_status", "assignee_grid", "status"),
        sa.Index("ix_cases_open_deadline", "is_open", "deadline_at"),
        sa.Index("ix_cases_camera_open", "camera_id", "category", "is_open"),
        sa.Index("ix_cases_lane_status", "lane", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # uuid4 hex
    category: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16))
    is_open: Mapped[bool] = mapped_column(sa.Boolean)
    source: Mapped[str] = mapped_column(sa.String(16))  # camera, phone, web, open311
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    camera_id: Mapped[str | None] = mapped_column(sa.String(64))
    grid_code: Mapped[str | None] = mapped_column(sa.String(32))
    community_code: Mapped[str | None] = mapped_column(sa.String(32))
    office_code: Mapped[str | None] = mapped_column(sa.String(32))
    routed_by_fallback: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    assignee_grid: Mapped[str | None] = mapped_column(sa.String(32))
    department: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("departments.code", name="fk_cases_department")
    )
    assignee_staff: Mapped[str | None] = mapped_column(sa.String(100))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_camera_id: Mapped[str | None] = mapped_column(sa.String(64))
    sightings: Mapped[int] = mapped_column(sa.Integer, default=0)
    passes: Mapped[int] = mapped_column(sa.Integer, default=0)
    snapshot_path: Mapped[str | None] = mapped_column(sa.String(255))  # the best sighting's (alerts.places)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verify_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # reported -> verified or rejected
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the first dispatch
    dispatch_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # reported -> first dispatch
    response_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # first dispatch -> first start
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the latest escalation
    escalated_from: Mapped[str | None] = mapped_column(sa.String(32))
    escalation_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the first handling
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_on_time: Mapped[bool | None] = mapped_column(sa.Boolean)
    dropped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # rejected or invalid
    drop_reason: Mapped[str | None] = mapped_column(sa.String(32))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # handling deadline, set at dispatch
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # what is due next: due_at or escalation's
    rework_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    merged_into: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("cases.id", name="fk_cases_merged"))
    possibly_resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the latest "seen clear" pass
    # Where a fixed camera sees the problem in its picture (the latest box, in snapshot pixels).
    spot_x1: Mapped[float | None] = mapped_column(sa.Float)
    spot_y1: Mapped[float | None] = mapped_column(sa.Float)
    spot_x2: Mapped[float | None] = mapped_column(sa.Float)
    spot_y2: Mapped[float | None] = mapped_column(sa.Float)
    snapshot_score: Mapped[float | None] = mapped_column(sa.Float)  # of snapshot_path (alerts.places)
    previous_case_id: Mapped[str | None] = mapped_column(sa.String(32))  # the closed case of the same place
    suppressed: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")  # quiet after rejection
    feedback_note: Mapped[str | None] = mapped_column(sa.Text)
    feedback_photo: Mapped[str | None] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The verdict filter's score of its surest sighting, and where it waits: the wall or the desk's low lane.
    likely_real: Mapped[float | None] = mapped_column(sa.Float)
    lane: Mapped[str] = mapped_column(sa.String(8), default="wall", server_default="wall")


class SightingRow(Base):
    """One time a case's problem was seen: an alert from a camera (or a report from another channel)."""

    __tablename__ = "sightings"
    __table_args__ = (sa.UniqueConstraint("alert_id", name="uq_sightings_alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("cases.id", name="fk_sightings_case"), index=True)
    alert_id: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("alerts.id", name="fk_sightings_alert"))
    camera_id: Mapped[str | None] = mapped_column(sa.String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)  # from the case's position
    confidence: Mapped[float | None] = mapped_column(sa.Float)
    snapshot_path: Mapped[str | None] = mapped_column(sa.String(255))
    clip_path: Mapped[str | None] = mapped_column(sa.String(255))
    new_pass: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # seen: the problem was there; suppressed: there, but its place was rejected lately; clear: a pass saw nothing.
    kind: Mapped[str] = mapped_column(sa.String(16), default="seen", server_default="seen")
    snapshot_score: Mapped[float | None] = mapped_column(sa.Float)
    spot_x1: Mapped[float | None] = mapped_column(sa.Float)
    spot_y1: Mapped[float | None] = mapped_column(sa.Float)
    spot_x2: Mapped[float | None] = mapped_column(sa.Float)
    spot_y2: Mapped[float | None] = mapped_column(sa.Float)


class CaseEventRow(Base):
    """The append-only audit log: one row per transition, merge, split, query and answer (triggers refuse edits)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("cases.id", name="fk_case_events_case"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(sa.String(24))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str | None] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(24))
    actor_grid: Mapped[str | None] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[str | None] = mapped_column(sa.Text)  # JSON: reason, target, photo, merged ids ...


class CaseQueryRow(Base):
    """A formal query (质询) a lower grid files on an overdue escalated case, and the parent's answer."""

    __tablename__ = "case_queries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("cases.id", name="fk_case_queries_case"), index=True
    )
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    filed_by: Mapped[str] = mapped_column(sa.String(100))
    filed_role: Mapped[str] = mapped_column(sa.String(24))
    filed_grid: Mapped[str | None] = mapped_column(sa.String(32))
    to_grid: Mapped[str] = mapped_column(sa.String(32), index=True)
    missed_deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    question: Mapped[str] = mapped_column(sa.Text)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by: Mapped[str | None] = mapped_column(sa.String(100))
    answered_role: Mapped[str | None] = mapped_column(sa.String(24))
    answer: Mapped[str | None] = mapped_column(sa.Text)


class UserRow(Base):
    """A person who logs in to the command centre: a role and the grid subtree they may see and act in."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))  # werkzeug.security (scrypt), never the password
    role: Mapped[str] = mapped_column(sa.String(24))
    scope_grid: Mapped[str | None] = mapped_column(sa.String(32))  # None = the whole territory
    department: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("departments.code", name="fk_users_department")
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GridStaffRow(Base):
    """A grid's staff member (网格员) besides its leader, in the order the map or an admin listed them."""

    __tablename__ = "grid_staff"

    grid_code: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("grids.code", name="fk_grid_staff_grid", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class GridMapRow(Base):
    """One row: the stored grid map's version, raised by each import so running processes reload the map."""

    __tablename__ = "grid_map"

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertEvidenceRow(Base):
    """What the pipeline saw for one alert: the crop, the rule's features, keypoints and nearby detections.

    Written by the sink right after the alert; copied into a verdict when an operator confirms or rejects.
    """

    __tablename__ = "alert_evidence"

    alert_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("alerts.id", name="fk_alert_evidence_alert", ondelete="CASCADE"),
        primary_key=True,
    )
    crop_path: Mapped[str | None] = mapped_column(sa.String(255))  # relative to the media folder
    features: Mapped[str] = mapped_column(sa.Text)  # JSON object name -> number
    keypoints: Mapped[str] = mapped_column(sa.Text)  # JSON [[x, y, conf], ...]
    nearby: Mapped[str] = mapped_column(sa.Text)  # JSON [{"class": .., "confidence": .., "bbox": [..]}, ...]
    likely_real: Mapped[float | None] = mapped_column(sa.Float)  # the filter's score when the alert was made
    filter_id: Mapped[int | None] = mapped_column(sa.Integer)  # which filter scored it


class VerdictRow(Base):
    """An operator's confirm or reject of a camera alert, with what the pipeline saw: the filter's teacher."""

    __tablename__ = "verdicts"
    __table_args__ = (sa.Index("ix_verdicts_category_at", "category", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("cases.id", name="fk_verdicts_case"), index=True)
    alert_id: Mapped[str | None] = mapped_column(sa.String(32))
    category: Mapped[str] = mapped_column(sa.String(8))
    real: Mapped[bool] = mapped_column(sa.Boolean)  # confirmed (True) or rejected as a false alarm (False)
    reason: Mapped[str] = mapped_column(sa.String(32))  # alerts.verdicts reason code
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(24))
    camera_id: Mapped[str | None] = mapped_column(sa.String(64))
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    snapshot_path: Mapped[str | None] = mapped_column(sa.String(255))
    crop_path: Mapped[str | None] = mapped_column(sa.String(255))
    bbox_x1: Mapped[float | None] = mapped_column(sa.Float)
    bbox_y1: Mapped[float | None] = mapped_column(sa.Float)
    bbox_x2: Mapped[float | None] = mapped_column(sa.Float)
    bbox_y2: Mapped[float | None] = mapped_column(sa.Float)
    features: Mapped[str] = mapped_column(sa.Text)  # JSON, as alert_evidence
    keypoints: Mapped[str] = mapped_column(sa.Text)
    nearby: Mapped[str] = mapped_column(sa.Text)
    likely_real: Mapped[float | None] = mapped_column(sa.Float)  # the score the alert had


class VerdictFilterRow(Base):
    """A trained verdict filter of one category; the newest active one per category is in use everywhere."""

    __tablename__ = "verdict_filters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(sa.String(8), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(sa.Boolean)
    model: Mapped[str] = mapped_column(sa.Text)  # JSON (vision.verdict_filter.VerdictModel), never a pickle
    trained_on: Mapped[int] = mapped_column(sa.Integer)
    held_apart: Mapped[int] = mapped_column(sa.Integer)
    metrics: Mapped[str] = mapped_column(sa.Text)  # JSON: log loss, false alarms off the wall, true moved
