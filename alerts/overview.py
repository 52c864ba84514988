"""The wall's overview of the cases, as pure queries over the store: open and overdue cases per grid, the open
cases' queue and the figures of a period. The dashboard's wall (dashboard.wall_data) caches and shapes them; the
engine they read stays here, so only alerts issues SQL."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine

from alerts import gridload
from alerts.casebook import CaseBook, CaseFilter, CaseView
from alerts.figures import FigureBook, Figures
from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch.types import Alert


class OverviewSource(Protocol):
    """What the overview reads from (``alerts.repository.Repository``)."""

    @property
    def engine(self) -> Engine: ...

    def list_grids(self, level: int | None = None) -> list[GridFeature]: ...

    def recent_alerts(self, limit: int = 50) -> list[Alert]: ...


def open_case_counts(source: OverviewSource, now: datetime) -> dict[str, tuple[int, int]]:
    """{grid code (any level): (open cases, of which overdue at ``now``)} (alerts.gridload)."""
    return gridload.open_case_counts(source.engine, now)


def open_queue(source: OverviewSource, router: GridRouter, scope: str | None, now: datetime,
               limit: int) -> list[CaseView]:
    """The wall's lane of open cases in ``scope``'s subtree (None: everywhere), the latest seen first."""
    return CaseBook(source.engine, router).queue(
        CaseFilter(open_only=True, grid=scope, limit=limit, newest_seen_first=True, lane="wall"), now=now)


def figures(source: OverviewSource, router: GridRouter, scope: str | None, start: datetime, end: datetime,
            as_of: datetime) -> Figures:
    """The figures of ``scope``'s subtree for the cases reported in [start, end) (alerts.figures)."""
    return FigureBook(source.engine, router).figures(scope, start, end, as_of=as_of)
