"""The monthly 100-point assessment of every grid: daily work 40, equipment 10, results 50.

Each part's sub-rules are settings (AssessmentRules); the defaults:

daily work (40)
    collection (20)  valid problems found in the grid (``collected``) against a monthly target; full marks at
                     the target, proportional below it.
    response (20)    the share of dispatched cases the grid started within ``response_within_hours`` of the
                     first dispatch; full marks when nothing was dispatched.
equipment (10)       the online ratio of the grid's cameras in the month (supplied by the caller, from ingest):
                     full marks at ``full_at`` or above, none at ``zero_at`` or below, linear in between;
                     ``unmeasured_points`` when the grid has no figure.
results (50)
    closure (20)     × closure rate (closed / due)
    on time (20)     × on-time closure rate (closed on time / due)
    rework (10)      × (1 - rework rate)
    minus ``overdue_penalty`` per overdue case, never below zero for the part.
    A rate with nothing to measure (nothing due, nothing handled) scores ``full_when_nothing_due``.

The month is a calendar month in the calendar's zone (Asia/Shanghai). Figures are evaluated as of the
month's end, or now if that is earlier, so a case whose deadline falls next month is not yet due.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.figures import FigureBook, Figures
from alerts.models import CaseRow, utc_now
from geo.routing import GridRouter
from gridwatch.settings import AssessmentRules

_CASES = cast(sa.Table, CaseRow.__table__)
_LEVEL_COLUMN = {1: "office_code", 2: "community_code", 3: "grid_code"}
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class GridScore:
    grid_code: str
    grid_name: str
    month: str  # YYYY-MM
    daily_work: float
    equipment: float
    results: float
    total: float
    equipment_measured: bool
    figures: Figures
    parts: dict[str, float]  # every sub-rule's points, for the report

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            "grid_code", "grid_name", "month", "daily_work", "equipment", "results", "total", "equipment_measured")}
        d.update(self.parts)
        return d


def month_bounds(year: int, month: int, tz: str = "Asia/Shanghai") -> tuple[datetime, datetime]:
    """UTC start and end of a calendar month in ``tz``."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def _rate_points(points: float, rate: float | None, nothing: bool) -> float:
    if rate is None:
        return points if nothing else 0.0
    return points * rate


def score(
    figures: Figures, responded: int, dispatched: int, online_ratio: float | None, rules: AssessmentRules
) -> dict[str, float]:
    """The points of every sub-rule for one grid (pure; ``responded`` of ``dispatched`` started in time)."""
    d, e, r = rules.daily_work, rules.equipment, rules.results
    parts = {
        "collection": d.collection_points * min(1.0, figures.collected / d.collection_target),
        "response": d.response_points * (responded / dispatched if dispatched else 1.0),
    }
    if online_ratio is None:
        parts["equipment"] = e.unmeasured_points
    else:
        share = (online_ratio - e.zero_at) / (e.full_at - e.zero_at)
        parts["equipment"] = e.weight * min(1.0, max(0.0, share))
    nothing = r.full_when_nothing_due
    parts["closure"] = _rate_points(r.closure_points, figures.closure_rate, nothing)
    parts["on_time"] = _rate_points(r.on_time_points, figures.on_time_closure_rate, nothing)
    parts["rework"] = r.rework_points * (1.0 - figures.rework_rate) if figures.rework_rate is not None else (
        r.rework_points if nothing else 0.0)
    parts["overdue_penalty"] = -min(r.overdue_penalty * figures.overdue,
                                    parts["closure"] + parts["on_time"] + parts["rework"])
    return {k: round(v, 2) for k, v in parts.items()}


class Assessor:
    """Scores every grid of a level for a month."""

    def __init__(self, engine: Engine, router: GridRouter, rules: AssessmentRules | None = None,
                 tz: str = "Asia/Shanghai", figures: FigureBook | None = None) -> None:
        """``figures``: the process's figure book when it has one (the dashboard's services bundle)."""
        self._engine = engine
        self._router = router
        self.rules = rules or AssessmentRules()
        self._tz = tz
        self._figures = figures or FigureBook(engine, router)

    def _responses(self, level: int, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        column = _CASES.c[_LEVEL_COLUMN[level]]
        limit_s = self.rules.daily_work.response_within_hours * 3600
        in_time = sa.and_(_CASES.c.response_seconds.is_not(None), _CASES.c.response_seconds <= limit_s)
        query = (
            sa.select(
                column.label("code"),
                sa.func.coalesce(sa.func.sum(sa.case((in_time, 1), else_=0)), 0).label("responded"),
                sa.func.count(_CASES.c.dispatched_at).label("dispatched"),
            )
            .where(_CASES.c.reported_at >= start, _CASES.c.reported_at < end, column.is_not(None))
            .group_by(column)
        )
        with self._engine.connect() as conn:
            return {r.code: (int(r.responded), int(r.dispatched)) for r in conn.execute(query)}

    def assess_month(
        self, year: int, month: int, level: int = 3, online_ratio: Mapping[str, float] | None = None,
        as_of: datetime | None = None,
    ) -> list[GridScore]:
        """Every grid of ``level``, by code; ``online_ratio`` maps grid codes to their cameras' online share."""
        start, end = month_bounds(year, month, self._tz)
        as_of = as_of or min(utc_now(), end)
        responses = self._responses(level, start, end)
        ratios = online_ratio or {}
        scores: list[GridScore] = []
        for f in self._figures.figures_by_grid(level, start, end, as_of):
            code = cast(str, f.grid_code)
            responded, dispatched = responses.get(code, (0, 0))
            ratio = ratios.get(code)
            parts = score(f, responded, dispatched, ratio, self.rules)
            daily = round(parts["collection"] + parts["response"], 2)
            results = round(parts["closure"] + parts["on_time"] + parts["rework"] + parts["overdue_penalty"], 2)
            scores.append(GridScore(
                grid_code=code, grid_name=self._router.feature(code).name, month=f"{year:04d}-{month:02d}",
                daily_work=daily, equipment=parts["equipment"], results=results,
                total=round(daily + parts["equipment"] + results, 1), equipment_measured=ratio is not None,
                figures=f, parts=parts,
            ))
        return scores
