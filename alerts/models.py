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
