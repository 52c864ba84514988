"""Reading cases: the queue an operator or a grid works through, one case with its sightings and history.

Everything returned is a frozen dataclass of plain values (times UTC-aware, media as /media/ URLs), ready for
the JSON API and the wall.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts import audit
from alerts.cases import CaseNotFoundError
from alerts.models import CaseQueryRow, CaseRow, SightingRow, utc_now
from alerts.repository import MEDIA_URL_PREFIX
from alerts.workflow import NOT_YET_HANDLED, Status
from geo.routing import GridRouter

_CASES = cast(sa.Table, CaseRow.__table__)
_SIGHTINGS = cast(sa.Table, SightingRow.__table__)
_QUERIES = cast(sa.Table, CaseQueryRow.__table__)
MAX_PAGE = 1000
_LEVEL_COLUMN = {1: "office_code", 2: "community_code", 3: "grid_code"}


def media_url(path: str | None) -> str | None:
    return None if path is None else MEDIA_URL_PREFIX + path


def subtree_clause(router: GridRouter, grid_code: str, table: sa.Table = _CASES) -> sa.ColumnElement[bool]:
    """Cases that lie in ``grid_code`` or below it (one indexed column per level)."""
    return table.c[_LEVEL_COLUMN[router.level(grid_code)]] == grid_code


def overdue_clause(now: datetime, table: sa.Table = _CASES) -> sa.ColumnElement[bool]:
    """Open cases that someone holds, not yet handled, whose current deadline has passed."""
    return sa.and_(
        table.c.status.in_([s.value for s in NOT_YET_HANDLED]),
        table.c.deadline_at.is_not(None),
        table.c.deadline_at < now,
    )


@dataclass(frozen=True, slots=True)
class CaseView:
    id: str
    category: str
    status: str
    is_open: bool
    source: str
    lat: float | None
    lon: float | None
    grid_code: str | None
    community_code: str | None
    office_code: str | None
    routed_by_fallback: bool
    assignee_grid: str | None
    department: str | None
    assignee_staff: str | None
    first_seen: datetime
    last_seen: datetime
    sightings: int
    passes: int
    snapshot_url: str | None
    reported_at: datetime
    verified_at: datetime | None
    registered_at: datetime | None
    dispatched_at: datetime | None
    escalated_at: datetime | None
    escalated_from: str | None
    handled_at: datetime | None
    closed_at: datetime | None
    closed_on_time: bool | None
    due_at: datetime | None
    deadline_at: datetime | None
    escalation_due_at: datetime | None
    overdue: bool
    possibly_resolved_at: datetime | None
    merged_into: str | None
    drop_reason: str | None
    rework_count: int
    feedback_note: str | None
    feedback_photo_url: str | None
    suppressed: int = 0  # sightings kept quietly after this case was rejected as a false alarm
    previous_case_id: str | None = None  # the finished case of the same place before this one
    last_camera_id: str | None = None  # the camera of its latest sighting
    likely_real: float | None = None  # the verdict filter's score of its surest sighting (None: not scored)
    lane: str = "wall"  # "low": the filter doubted it, so it waits in the desk's low-priority lane, off the wall

    @property
    def seen_clear(self) -> bool:
        """A camera's pass saw the place clear after the problem was last seen (现场复查: 已无)."""
        return self.is_open and self.possibly_resolved_at is not None


@dataclass(frozen=True, slots=True)
class SightingView:
    id: int
    alert_id: str | None
    camera_id: str | None
    seen_at: datetime
    lat: float | None
    lon: float | None
    distance_m: float | None
    confidence: float | None
    snapshot_url: str | None
    clip_url: str | None
    new_pass: bool
    kind: str = "seen"  # seen, suppressed (its place was rejected lately) or clear (a pass saw nothing there)


@dataclass(frozen=True, slots=True)
class QueryView:
    """A formal query (质询) on an escalated case and, once given, the parent grid's answer."""

    id: int
    case_id: str
    filed_at: datetime
    filed_by: str
    filed_role: str
    filed_grid: str | None
    to_grid: str
    missed_deadline: datetime
    question: str
    answered_at: datetime | None
    answered_by: str | None
    answered_role: str | None
    answer: str | None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: CaseView
    sightings: list[SightingView]
    history: list[audit.AuditEntry]
    queries: list[QueryView]


@dataclass(frozen=True)
class CaseFilter:
    """What the queue shows; every field narrows it. ``grid`` is a subtree (the grid and everything below)."""

    statuses: Sequence[str] = field(default_factory=tuple)
    open_only: bool = False
    grid: str | None = None
    assignee_grid: str | None = None
    department: str | None = None
    category: str | None = None
    overdue_only: bool = False
    possibly_resolved_only: bool = False
    reported_from: datetime | None = None
    reported_to: datetime | None = None  # exclusive
    source: str | None = None  # the channel that opened the case: camera, phone, web, patrol, open311
    limit: int = 100
    offset: int = 0
    newest_seen_first: bool = False  # the wall's order (latest sighting first), not the deadline's
    lane: str | None = None  # "wall" or "low" (the desk's low-priority lane); None = both
    uncertain_first: float | None = None  # a threshold: scores nearest it first, unscored cases last


def case_view(row: Any, now: datetime) -> CaseView:
    overdue = (
        row.status in NOT_YET_HANDLED and row.deadline_at is not None and row.deadline_at < now
    )
    return CaseView(
        id=row.id, category=row.category, status=row.status, is_open=bool(row.is_open), source=row.source,
        lat=row.lat, lon=row.lon, grid_code=row.grid_code, community_code=row.community_code,
        office_code=row.office_code, routed_by_fallback=bool(row.routed_by_fallback),
        assignee_grid=row.assignee_grid, department=row.department, assignee_staff=row.assignee_staff,
        first_seen=row.first_seen, last_seen=row.last_seen, sightings=int(row.sightings), passes=int(row.passes),
        snapshot_url=media_url(row.snapshot_path), reported_at=row.reported_at, verified_at=row.verified_at,
        registered_at=row.registered_at, dispatched_at=row.dispatched_at, escalated_at=row.escalated_at,
        escalated_from=row.escalated_from, handled_at=row.handled_at, closed_at=row.closed_at,
        closed_on_time=row.closed_on_time, due_at=row.due_at, deadline_at=row.deadline_at,
        escalation_due_at=row.escalation_due_at, overdue=overdue, possibly_resolved_at=row.possibly_resolved_at,
        merged_into=row.merged_into, drop_reason=row.drop_reason, rework_count=int(row.rework_count),
        feedback_note=row.feedback_note, feedback_photo_url=media_url(row.feedback_photo),
        suppressed=int(row.suppressed or 0), previous_case_id=row.previous_case_id,
        last_camera_id=row.last_camera_id, likely_real=row.likely_real, lane=row.lane,
    )


def query_view(row: Any) -> QueryView:
    return QueryView(
        id=int(row.id), case_id=row.case_id, filed_at=row.filed_at, filed_by=row.filed_by,
        filed_role=row.filed_role, filed_grid=row.filed_grid, to_grid=row.to_grid,
        missed_deadline=row.missed_deadline, question=row.question, answered_at=row.answered_at,
        answered_by=row.answered_by, answered_role=row.answered_role, answer=row.answer,
    )


class CaseBook:
    """Read-only access to cases for the dashboard and the API."""

    def __init__(self, engine: Engine, router: GridRouter) -> None:
        self._engine = engine
        self._router = router

    def _where(self, f: CaseFilter, now: datetime) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if f.statuses:
            where.append(_CASES.c.status.in_([Status(s).value for s in f.statuses]))
        if f.open_only:
            where.append(_CASES.c.is_open == sa.true())
        if f.grid is not None:
            where.append(subtree_clause(self._router, f.grid))
        if f.assignee_grid is not None:
            where.append(_CASES.c.assignee_grid == f.assignee_grid)
        if f.department is not None:
            where.append(_CASES.c.department == f.department)
        if f.category is not None:
            where.append(_CASES.c.category == f.category)
        if f.overdue_only:
            where.append(overdue_clause(now))
        if f.possibly_resolved_only:
            where.append(sa.and_(_CASES.c.possibly_resolved_at.is_not(None), _CASES.c.is_open == sa.true()))
        if f.reported_from is not None:
            where.append(_CASES.c.reported_at >= f.reported_from)
        if f.reported_to is not None:
            where.append(_CASES.c.reported_at < f.reported_to)
        if f.source is not None:
            where.append(_CASES.c.source == f.source)
        if f.lane is not None:
            where.append(_CASES.c.lane == f.lane)
        return where

    def queue(self, f: CaseFilter | None = None, now: datetime | None = None) -> list[CaseView]:
        """Cases matching ``f``: those with the earliest deadline first, then the newest reports."""
        f = f or CaseFilter()
        if not 1 <= f.limit <= MAX_PAGE or f.offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE} and offset >= 0, got {f.limit} and {f.offset}")
        now = now or utc_now()
        order: tuple[Any, ...] = (
            (_CASES.c.last_seen.desc(), _CASES.c.id) if f.newest_seen_first else
            (_CASES.c.deadline_at.is_(None), _CASES.c.deadline_at, _CASES.c.reported_at.desc(), _CASES.c.id))
        if f.uncertain_first is not None:
            # The hard examples first: the verdicts that teach the filter most are those it is least sure of.
            order = (_CASES.c.likely_real.is_(None), sa.func.abs(_CASES.c.likely_real - f.uncertain_first), *order)
        query = (
            sa.select(_CASES)
            .where(*self._where(f, now))
            .order_by(*order)
            .limit(f.limit)
            .offset(f.offset)
        )
        with self._engine.connect() as conn:
            return [case_view(r, now) for r in conn.execute(query)]

    def count(self, f: CaseFilter | None = None, now: datetime | None = None) -> int:
        f = f or CaseFilter()
        query = sa.select(sa.func.count()).select_from(_CASES).where(*self._where(f, now or utc_now()))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def get(self, case_id: str, now: datetime | None = None) -> CaseView:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_CASES).where(_CASES.c.id == case_id)).first()
        if row is None:
            raise CaseNotFoundError(f"no case {case_id}")
        return case_view(row, now or utc_now())

    def detail(self, case_id: str, now: datetime | None = None) -> CaseDetail:
        case = self.get(case_id, now)
        with self._engine.connect() as conn:
            return CaseDetail(case, self._sightings(conn, case_id), audit.history(conn, case_id),
                              self._queries(conn, case_id))

    def sightings(self, case_id: str) -> list[SightingView]:
        with self._engine.connect() as conn:
            return self._sightings(conn, case_id)

    def history(self, case_id: str) -> list[audit.AuditEntry]:
        with self._engine.connect() as conn:
            return audit.history(conn, case_id)

    def queries(
        self, case_id: str | None = None, to_grid: str | None = None, open_only: bool = False
    ) -> list[QueryView]:
        """Formal queries, oldest first: of one case, or those a grid must answer."""
        query = sa.select(_QUERIES).order_by(_QUERIES.c.filed_at, _QUERIES.c.id)
        if case_id is not None:
            query = query.where(_QUERIES.c.case_id == case_id)
        if to_grid is not None:
            query = query.where(_QUERIES.c.to_grid == to_grid)
        if open_only:
            query = query.where(_QUERIES.c.answered_at.is_(None))
        with self._engine.connect() as conn:
            return [query_view(r) for r in conn.execute(query)]

    @staticmethod
    def _sightings(conn: Connection, case_id: str) -> list[SightingView]:
        query = sa.select(_SIGHTINGS).where(_SIGHTINGS.c.case_id == case_id).order_by(
            _SIGHTINGS.c.seen_at, _SIGHTINGS.c.id
        )
        return [
            SightingView(
                id=int(r.id), alert_id=r.alert_id, camera_id=r.camera_id, seen_at=r.seen_at, lat=r.lat, lon=r.lon,
                distance_m=r.distance_m, confidence=r.confidence, snapshot_url=media_url(r.snapshot_path),
                clip_url=media_url(r.clip_path), new_pass=bool(r.new_pass), kind=r.kind,
            )
            for r in conn.execute(query)
        ]

    @staticmethod
    def _queries(conn: Connection, case_id: str) -> list[QueryView]:
        query = sa.select(_QUERIES).where(_QUERIES.c.case_id == case_id).order_by(_QUERIES.c.filed_at)
        return [query_view(r) for r in conn.execute(query)]
