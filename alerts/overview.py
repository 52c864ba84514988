"""The wall's overview of the cases, as pure queries over the store: open and overdue cases per grid and the open
cases' queue (the figures of a period are the process's ``alerts.figures.FigureBook``). The dashboard's wall
(dashboard.wall_data) caches and shapes them; the engine they read stays here, so only alerts issues SQL."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine

from alerts import gridload
from alerts.casebook import CaseBook, CaseFilter, CaseView
from geo.grids import GridFeature
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


def open_queue(book: CaseBook, scope: str | None, now: datetime, limit: int) -> list[CaseView]:
    """The wall's lane of open cases in ``scope``'s subtree (None: everywhere), the latest seen first, read
    through the process's case book."""
    return book.queue(
        CaseFilter(open_only=True, grid=scope, limit=limit, newest_seen_first=True, lane="wall"), now=now)

