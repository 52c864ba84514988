"""A search over sightings (each one an alert, or a person's report) joined to their case and alert: what the
supervisor's replay lists, newest first, narrowed by time, camera, grid, category, status or case.

Read-only, one short transaction per call; everything returned is plain values ready for the pages.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.casebook import media_url, subtree_clause
from alerts.models import AlertRow, CaseRow, SightingRow
from alerts.workflow import Status
from geo.routing import GridRouter

_CASES = cast(sa.Table, CaseRow.__table__)
_SIGHTINGS = cast(sa.Table, SightingRow.__table__)
_ALERTS = cast(sa.Table, AlertRow.__table__)
MAX_HITS = 500


@dataclass(frozen=True)
class SightingFilter:
    """What the replay searches; every field narrows it. ``grid`` is a subtree of where the case lies."""

    seen_from: datetime | None = None
    seen_to: datetime | None = None  # exclusive
    camera_id: str | None = None
    grid: str | None = None
    category: str | None = None
    statuses: Sequence[str] = field(default_factory=tuple)
    case_id: str | None = None
    limit: int = 200


@dataclass(frozen=True, slots=True)
class SightingHit:
    """One sighting (an alert, or a person's report) with its case's state and, for alerts, the box."""

    sighting_id: int
    case_id: str
    alert_id: str | None
    camera_id: str | None
    seen_at: datetime
    category: str
    status: str
    grid_code: str | None
    assignee_grid: str | None
    lat: float | None
    lon: float | None
    confidence: float | None
    snapshot_url: str | None
    bbox: tuple[float, float, float, float] | None
    new_pass: bool


def search_sightings(engine: Engine, router: GridRouter, f: SightingFilter) -> list[SightingHit]:
    """Sightings matching ``f``, newest first."""
    if not 1 <= f.limit <= MAX_HITS:
        raise ValueError(f"limit must be 1..{MAX_HITS}, got {f.limit}")
    s, c, a = _SIGHTINGS, _CASES, _ALERTS
    query = (
        sa.select(
            s.c.id, s.c.case_id, s.c.alert_id, s.c.camera_id, s.c.seen_at, s.c.lat, s.c.lon, s.c.confidence,
            s.c.snapshot_path, s.c.new_pass, c.c.category, c.c.status, c.c.grid_code, c.c.assignee_grid,
            a.c.bbox_x1, a.c.bbox_y1, a.c.bbox_x2, a.c.bbox_y2,
        )
        # Outer join: a person's report is a sighting without an alert (and so without a box).
        .select_from(s.join(c, s.c.case_id == c.c.id).outerjoin(a, s.c.alert_id == a.c.id))
        .order_by(s.c.seen_at.desc(), s.c.id.desc())
        .limit(f.limit)
    )
    if f.seen_from is not None:
        query = query.where(s.c.seen_at >= f.seen_from)
    if f.seen_to is not None:
        query = query.where(s.c.seen_at < f.seen_to)
    if f.camera_id:
        query = query.where(s.c.camera_id == f.camera_id)
    if f.grid:
        query = query.where(subtree_clause(router, f.grid, c))
    if f.category:
        query = query.where(c.c.category == f.category)
    if f.statuses:
        query = query.where(c.c.status.in_([Status(x).value for x in f.statuses]))
    if f.case_id:
        query = query.where(s.c.case_id == f.case_id)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        SightingHit(
            sighting_id=int(r.id), case_id=r.case_id, alert_id=r.alert_id, camera_id=r.camera_id, seen_at=r.seen_at,
            category=r.category, status=r.status, grid_code=r.grid_code, assignee_grid=r.assignee_grid,
            lat=r.lat, lon=r.lon, confidence=r.confidence, snapshot_url=media_url(r.snapshot_path),
            bbox=None if r.bbox_x1 is None else (float(r.bbox_x1), float(r.bbox_y1), float(r.bbox_x2),
                                                 float(r.bbox_y2)),
            new_pass=bool(r.new_pass),
        )
        for r in rows
    ]
