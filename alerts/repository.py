"""SQL for alerts and the grid map, on SQLite or PostgreSQL (cases, the outbox and figures have their own modules).

Every method opens its own short transaction, so one Repository can be shared by threads.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from alerts.models import AlertRow, GridMapRow, GridRow, OutboxRow, utc_now
from geo.grids import GridFeature, validate_features
from gridwatch.events import alert_to_stream
from gridwatch.types import Alert

log = logging.getLogger(__name__)

MEDIA_URL_PREFIX = "/media/"
_ALERTS = cast(sa.Table, AlertRow.__table__)
_GRIDS = cast(sa.Table, GridRow.__table__)
_OUTBOX = cast(sa.Table, OutboxRow.__table__)
_GRID_MAP = cast(sa.Table, GridMapRow.__table__)


class RepositoryError(RuntimeError):
    """A store operation failed for a reason other than a duplicate event."""


class UnknownGridError(RepositoryError):
    """An alert names a grid code that the stored grid map does not have."""


def _snapshot_url(path: str | None) -> str | None:
    return None if path is None else MEDIA_URL_PREFIX + path


def check_media_path(path: str | None) -> None:
    if path is None:
        return
    p = PurePosixPath(path)
    if "\\" in path or p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"snapshot_path must be relative to the media folder with '/' separators, got {path!r}")


def _to_alert(row: sa.Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        camera_id=row.camera_id,
        category=row.category,
        confidence=float(row.confidence),
        detected_at=row.detected_at,
        lat=row.lat,
        lon=row.lon,
        grid_code=row.grid_code,
        snapshot_url=_snapshot_url(row.snapshot_path),
        bbox=(float(row.bbox_x1), float(row.bbox_y1), float(row.bbox_x2), float(row.bbox_y2)),
        track_id=int(row.track_id),
    )


def _to_feature(row: sa.Row[Any]) -> GridFeature:
    return GridFeature(
        code=row.code,
        name=row.name,
        level=int(row.level),
        parent=row.parent_code,
        leader=row.leader,
        geometry=json.loads(row.geometry),
    )


class Repository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- alerts -------------------------------------------------------------------------------------------

    def _insert_ignoring_duplicate_event(self, conn: Connection, values: dict[str, Any]) -> bool:
        dialect = conn.dialect.name
        if dialect in ("sqlite", "postgresql"):
            # ON CONFLICT keeps two workers replaying one event from racing each other into an error.
            insert = sqlite.insert(_ALERTS) if dialect == "sqlite" else postgresql.insert(_ALERTS)
            # RETURNING, not rowcount: psycopg 3 under SQLAlchemy 2.1 reports -1 for this statement.
            stmt = insert.values(**values).on_conflict_do_nothing(index_elements=["event_id"]).returning(_ALERTS.c.id)
            return conn.execute(stmt).first() is not None
        exists = conn.execute(sa.select(_ALERTS.c.id).where(_ALERTS.c.event_id == values["event_id"])).first()
        if exists is not None:
            return False
        conn.execute(sa.insert(_ALERTS).values(**values))
        return True

    def add_alert(
        self, alert: Alert, event_id: str, snapshot_path: str | None, outbox_stream: str | None = None
    ) -> bool:
        """Store an alert once per ``event_id``; False when that event is already stored.

        ``snapshot_path`` is relative to the media folder ("snapshots/2026/11/24/<id>.jpg"); ``alert.snapshot_url``
        is ignored (it is derived from the path on read). Raises UnknownGridError for a grid not in the map.
        With ``outbox_stream``, the stream entry for the alert is written to the outbox in the same transaction,
        so a stored alert is always published eventually (alerts.outbox.OutboxRelay sends it).
        """
        check_media_path(snapshot_path)
        if alert.detected_at.tzinfo is None:
            raise ValueError(f"alert {alert.id}: detected_at must be timezone-aware, got {alert.detected_at}")
        values: dict[str, Any] = {
            "id": alert.id,
            "event_id": event_id,
            "camera_id": alert.camera_id,
            "category": alert.category,
            "confidence": float(alert.confidence),
            "detected_at": alert.detected_at.astimezone(UTC),
            "lat": alert.lat,
            "lon": alert.lon,
            "grid_code": alert.grid_code,
            "snapshot_path": snapshot_path,
            "bbox_x1": float(alert.bbox[0]),
            "bbox_y1": float(alert.bbox[1]),
            "bbox_x2": float(alert.bbox[2]),
            "bbox_y2": float(alert.bbox[3]),
            "track_id": int(alert.track_id),
            "created_at": utc_now(),
        }
        try:
            with self._engine.begin() as conn:
                if alert.grid_code is not None:
                    known = conn.execute(sa.select(_GRIDS.c.code).where(_GRIDS.c.code == alert.grid_code)).first()
                    if known is None:
                        raise UnknownGridError(
                            f"alert {alert.id} (event {event_id}) names grid {alert.grid_code!r}, "
                            "which is not in the stored grid map"
                        )
                stored = self._insert_ignoring_duplicate_event(conn, values)
                if stored and outbox_stream is not None:
                    as_read = dataclasses.replace(
                        alert, detected_at=values["detected_at"], snapshot_url=_snapshot_url(snapshot_path)
                    )
                    conn.execute(
                        sa.insert(_OUTBOX).values(
                            alert_id=alert.id,
                            stream=outbox_stream,
                            payload=json.dumps(alert_to_stream(as_read), ensure_ascii=False),
                            created_at=values["created_at"],
                            attempts=0,
                        )
                    )
        except sa.exc.IntegrityError as exc:
            raise RepositoryError(f"cannot store alert {alert.id} (event {event_id}): {exc.orig}") from exc
        if not stored:
            log.debug("event %s already stored; alert %s dropped", event_id, alert.id)
        return stored

    def event_stored(self, event_id: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(_ALERTS.c.id).where(_ALERTS.c.event_id == event_id)).first() is not None

    def recent_alerts(self, limit: int = 50, scope: str | None = None) -> list[Alert]:
        """The newest ``limit`` alerts, newest first (by detection time); with ``scope``, only those in that grid's
        subtree (grid codes are hierarchical, so a prefix)."""
        if limit <= 0:
            return []
        query = (
            sa.select(_ALERTS)
            .order_by(_ALERTS.c.detected_at.desc(), _ALERTS.c.created_at.desc(), _ALERTS.c.id.desc())
            .limit(limit)
        )
        if scope is not None:  # geo.scope.within, in SQL: a prefix of the grid code tree (a NULL code is outside)
            query = query.where(_ALERTS.c.grid_code.startswith(scope, autoescape=True))
        with self._engine.connect() as conn:
            return [_to_alert(r) for r in conn.execute(query)]

    def get_alert(self, alert_id: str) -> Alert | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_ALERTS).where(_ALERTS.c.id == alert_id)).first()
        return None if row is None else _to_alert(row)

    def count_alerts(self, since: datetime | None = None) -> int:
        """How many alerts are stored; with ``since`` (timezone-aware), only those detected at or after it."""
        query = sa.select(sa.func.count()).select_from(_ALERTS)
        if since is not None:
            if since.tzinfo is None:
                raise ValueError(f"since must be timezone-aware, got {since}")
            query = query.where(_ALERTS.c.detected_at >= since.astimezone(UTC))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- grid map -----------------------------------------------------------------------------------------

    def replace_grids(self, grids: Sequence[GridFeature]) -> int:
        """Make ``grids`` the stored map, in one transaction: all or nothing. Returns how many were stored.

        Grids whose code stays are updated in place, so alerts keep pointing at them; alerts of removed grids
        keep their place and time but lose the grid link.
        """
        validate_features(grids, origin="(replace_grids)")
        new_codes = {g.code for g in grids}
        now = utc_now()
        with self._engine.begin() as conn:
            old = {r.code: r.level for r in conn.execute(sa.select(_GRIDS.c.code, _GRIDS.c.level))}
            # Parents before children so every parent_code already exists when its child is written.
            for g in sorted(grids, key=lambda g: (g.level, g.code)):
                values = {
                    "name": g.name,
                    "level": g.level,
                    "parent_code": g.parent,
                    "leader": g.leader,
                    "geometry": json.dumps(g.geometry, ensure_ascii=False, separators=(",", ":")),
                }
                if g.code in old:
                    conn.execute(sa.update(_GRIDS).where(_GRIDS.c.code == g.code).values(**values))
                else:
                    conn.execute(sa.insert(_GRIDS).values(code=g.code, created_at=now, **values))
            gone = sorted((c for c in old if c not in new_codes), key=lambda c: -old[c])  # children first
            orphaned = 0
            if gone:
                orphaned = int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(_ALERTS).where(_ALERTS.c.grid_code.in_(gone))
                    ).scalar_one()
                )
                for code in gone:
                    conn.execute(sa.delete(_GRIDS).where(_GRIDS.c.code == code))
            # In the same transaction: whoever sees the new version reads the whole new map.
            conn.execute(sa.update(_GRID_MAP).where(_GRID_MAP.c.id == 1)
                         .values(version=_GRID_MAP.c.version + 1, changed_at=now))
        if orphaned:
            log.warning("grid map replaced: %d removed grids had %d alerts, now without a grid", len(gone), orphaned)
        log.info("grid map replaced: %d grids (%d new, %d removed)", len(grids), len(new_codes - old.keys()), len(gone))
        return len(grids)

    def list_grids(self, level: int | None = None) -> list[GridFeature]:
        query = sa.select(_GRIDS).order_by(_GRIDS.c.level, _GRIDS.c.code)
        if level is not None:
            query = query.where(_GRIDS.c.level == level)
        with self._engine.connect() as conn:
            return [_to_feature(r) for r in conn.execute(query)]

    def grid_map_version(self) -> int:
        """Raised by every ``replace_grids``: a process whose map is older reloads it (``geo.gridmap``)."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(_GRID_MAP.c.version).where(_GRID_MAP.c.id == 1)).scalar_one())

    def grid_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_GRIDS)).scalar_one())
