"""Figures of the case workflow for any grid subtree and period, in one indexed query.

Which cases count
    The cases *reported* in the period [start, end) whose location lies in the subtree (the grid, or a
    community or office and everything below it), each in its state as of ``as_of`` (default: now).

Definitions
    reported        every case reported in the period.
    rejected        cases dropped before anyone was dispatched: false alarms, duplicates (merged cases
                    included) and cases found invalid before dispatch.
    collected       reported - rejected: the valid problems that entered the flow.
    registered      cases that were registered (立案) at some point.
    dispatched      cases dispatched to a grid or department and never escalated.
    escalated       cases escalated to a parent grid (they were all dispatched first).
    pending         collected cases not dispatched yet (reported, verified, registered, or deferred before
                    dispatch).
    closed          cases whose status is closed.
    deferred        cases whose status is deferred (缓办) now.
    due             应结案数: dispatched or escalated cases that are not deferred, rejected or invalid now, and
                    that are closed or whose handling deadline (``due_at``, set at the first dispatch) has
                    passed by ``as_of``. Deferred cases are excluded ("net of deferred"): their clock stopped.
    closed_on_time  closed cases closed no later than their handling deadline.
    handled         cases handled (feedback given) at least once.
    reworked        cases sent back for rework at least once.
    overdue         cases held by someone and not yet handled whose current deadline (the handling one, or the
                    parent grid's 7 working days after an escalation) passed before ``as_of``.

Rates (None when the denominator is 0)
    closure rate          closed / due
    on-time closure rate  closed_on_time / due
    rework rate           reworked / handled

Invariant: collected = dispatched + escalated + pending (every valid case is in exactly one of the three).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.casebook import overdue_clause, subtree_clause
from alerts.models import CaseRow, utc_now
from alerts.workflow import Status
from geo.routing import GridRouter

_CASES = cast(sa.Table, CaseRow.__table__)
_LEVEL_COLUMN = {1: "office_code", 2: "community_code", 3: "grid_code"}
_DROPPED = [Status.REJECTED.value, Status.INVALID.value]
_IN_LIST_MAX = 2000


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one subtree (``grid_code`` None: the whole territory) and period; see the module doc."""

    grid_code: str | None
    start: datetime
    end: datetime
    as_of: datetime
    reported: int
    rejected: int
    collected: int
    registered: int
    dispatched: int
    escalated: int
    pending: int
    closed: int
    deferred: int
    due: int
    closed_on_time: int
    handled: int
    reworked: int
    overdue: int

    @property
    def closure_rate(self) -> float | None:
        return self.closed / self.due if self.due else None

    @property
    def on_time_closure_rate(self) -> float | None:
        return self.closed_on_time / self.due if self.due else None

    @property
    def rework_rate(self) -> float | None:
        return self.reworked / self.handled if self.handled else None

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and export: the counts, the rates and ISO times."""
        d = asdict(self)
        for key in ("start", "end", "as_of"):
            d[key] = d[key].isoformat()
        d.update(closure_rate=self.closure_rate, on_time_closure_rate=self.on_time_closure_rate,
                 rework_rate=self.rework_rate)
        return d


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _measures(as_of: datetime) -> list[sa.ColumnElement[Any]]:
    c = _CASES.c
    dropped_early = sa.and_(c.status.in_(_DROPPED), c.dispatched_at.is_(None))
    due = sa.and_(
        c.dispatched_at.is_not(None),
        c.status.not_in([Status.DEFERRED.value, *_DROPPED]),
        sa.or_(c.status == Status.CLOSED.value, c.due_at <= as_of),
    )
    return [
        sa.func.count().label("reported"),
        _count(dropped_early).label("rejected"),
        _count(sa.and_(c.registered_at.is_not(None))).label("registered"),
        _count(sa.and_(c.dispatched_at.is_not(None), c.escalated_at.is_(None))).label("dispatched"),
        _count(sa.and_(c.escalated_at.is_not(None))).label("escalated"),
        _count(sa.and_(c.dispatched_at.is_(None), c.status.not_in(_DROPPED))).label("pending"),
        _count(c.status == Status.CLOSED.value).label("closed"),
        _count(c.status == Status.DEFERRED.value).label("deferred"),
        _count(due).label("due"),
        _count(sa.and_(c.status == Status.CLOSED.value, c.closed_on_time == sa.true())).label("closed_on_time"),
        _count(sa.and_(c.handled_at.is_not(None))).label("handled"),
        _count(c.rework_count > 0).label("reworked"),
        _count(overdue_clause(as_of)).label("overdue"),
    ]


def _figures(row: Any, grid_code: str | None, start: datetime, end: datetime, as_of: datetime) -> Figures:
    values = {k: int(getattr(row, k, 0) or 0) for k in (
        "reported", "rejected", "registered", "dispatched", "escalated", "pending", "closed", "deferred", "due",
        "closed_on_time", "handled", "reworked", "overdue")}
    return Figures(grid_code=grid_code, start=start, end=end, as_of=as_of,
                   collected=values["reported"] - values["rejected"], **values)


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("period bounds must be timezone-aware")
    if end <= start:
        raise ValueError(f"period end {end.isoformat()} is not after its start {start.isoformat()}")


class FigureBook:
    """Figures for the wall, the reports and the monthly assessment."""

    def __init__(self, engine: Engine, router: GridRouter) -> None:
        self._engine = engine
        self._router = router

    def figures(
        self, grid_code: str | None, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> Figures:
        """Figures of ``grid_code``'s subtree (None: everything) for cases reported in [start, end)."""
        _check_period(start, end)
        as_of = as_of or utc_now()
        query = sa.select(*_measures(as_of)).select_from(_CASES).where(
            _CASES.c.reported_at >= start, _CASES.c.reported_at < end
        )
        if grid_code is not None:
            query = query.where(subtree_clause(self._router, grid_code))
        with self._engine.connect() as conn:
            row = conn.execute(query).one()
        return _figures(row, grid_code, start, end, as_of)

    def figures_by_grid(
        self, level: int, start: datetime, end: datetime, as_of: datetime | None = None,
        codes: Iterable[str] | None = None,
    ) -> list[Figures]:
        """Figures of every grid of ``level`` (1 office, 2 community, 3 grid), by code, in one grouped query.

        Grids without cases are listed with zeros; ``codes`` limits the list to those grids.
        """
        _check_period(start, end)
        if level not in _LEVEL_COLUMN:
            raise ValueError(f"level must be 1, 2 or 3, got {level}")
        as_of = as_of or utc_now()
        wanted = sorted(codes) if codes is not None else self._router.codes(level)
        column = _CASES.c[_LEVEL_COLUMN[level]]
        query = (
            sa.select(column.label("code"), *_measures(as_of))
            .where(_CASES.c.reported_at >= start, _CASES.c.reported_at < end)
            .group_by(column)
        )
        if codes is not None or len(wanted) <= _IN_LIST_MAX:
            # An IN list lets the office index be searched per code (and read alone: it covers the query).
            query = query.where(column.in_(wanted))
        else:
            query = query.where(column.is_not(None))
        with self._engine.connect() as conn:
            found = {r.code: r for r in conn.execute(query)}
        return [_figures(found.get(code), code, start, end, as_of) for code in wanted]
