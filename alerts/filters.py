"""The verdict filters in use: stored per category, judged against the one in use, and kept current in every
running process.

``gridwatch learn`` stores a filter (``store``) only when it did at least as well on its held-apart verdicts
as the filter in use; the new row is active and the old one is not, in one transaction. Running processes
hold a :class:`FilterSet` that a :class:`FilterWatcher` keeps on the stored filters, as ``geo.gridmap``
keeps routers on the stored grid map: it polls one number (the newest filter's id) every few seconds and,
when it changed, loads the active filters and swaps them in at once.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.db import write_transaction
from alerts.models import VerdictFilterRow
from gridwatch.loop import Periodic
from vision.verdict_filter import VerdictModel

log = logging.getLogger(__name__)

_FILTERS = cast(sa.Table, VerdictFilterRow.__table__)
LOW = "low"
WALL = "wall"


@dataclass(frozen=True, slots=True)
class StoredFilter:
    id: int
    category: str
    created_at: datetime
    model: VerdictModel
    trained_on: int
    held_apart: int
    metrics: dict[str, Any]


def _stored(r: Any) -> StoredFilter:
    return StoredFilter(int(r.id), r.category, r.created_at, VerdictModel.from_json(r.model), int(r.trained_on),
                        int(r.held_apart), json.loads(r.metrics))


def active(engine: Engine) -> dict[str, StoredFilter]:
    """category -> the filter in use."""
    out: dict[str, StoredFilter] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(_FILTERS).where(_FILTERS.c.active == sa.true()).order_by(_FILTERS.c.id)):
            try:
                out[r.category] = _stored(r)
            except (ValueError, KeyError) as exc:
                log.error("verdict filter %d of category %s unreadable, not used: %s", r.id, r.category, exc)
    return out


def version(engine: Engine) -> int:
    """Raised by every stored filter: a process whose filters are older reloads them."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_FILTERS.c.id), 0))).scalar_one())


def store(engine: Engine, model: VerdictModel, trained_on: int, held_apart: int, metrics: dict[str, Any],
          now: datetime) -> int:
    """Make ``model`` the category's filter in use (the previous one stays, inactive, for the record)."""
    with write_transaction(engine) as conn:
        conn.execute(sa.update(_FILTERS).where(_FILTERS.c.category == model.category, _FILTERS.c.active == sa.true())
                     .values(active=False))
        return int(conn.execute(sa.insert(_FILTERS).values(
            category=model.category, created_at=now, active=True, model=model.to_json(), trained_on=trained_on,
            held_apart=held_apart, metrics=json.dumps(metrics),
        ).returning(_FILTERS.c.id)).scalar_one())


@dataclass(frozen=True, slots=True)
class Judgement:
    likely_real: float
    lane: str  # LOW or WALL
    filter_id: int


class FilterSet:
    """The filters a process scores new alerts with; swapped whole, so a reader never sees half of a reload."""

    def __init__(self, threshold: float, enabled: bool = True) -> None:
        self.threshold = threshold
        self.enabled = enabled
        self._filters: dict[str, StoredFilter] = {}
        self._lock = threading.Lock()

    def replace(self, filters: dict[str, StoredFilter]) -> None:
        with self._lock:
            self._filters = dict(filters)

    def get(self, category: str) -> StoredFilter | None:
        with self._lock:
            return self._filters.get(category)

    def judge(self, category: str, features: dict[str, float]) -> Judgement | None:
        """The score and lane of an alert; None without a filter for its category (it goes to the wall)."""
        f = self.get(category) if self.enabled else None
        if f is None or not features:
            return None
        p = f.model.score(features)
        return Judgement(p, LOW if p < self.threshold else WALL, f.id)


class FilterWatcher(Periodic):
    """``start()`` keeps ``filters`` on the stored filters (checked every ``every_seconds``)."""

    def __init__(self, engine: Engine, filters: FilterSet, every_seconds: float = 3.0) -> None:
        super().__init__("verdict-filters", every_seconds)
        self._engine = engine
        self.filters = filters
        self.version = -1
        self.check()

    def tick(self) -> None:
        self.check()

    def check(self) -> bool:
        """Reload when a filter was stored since; True when it did."""
        v = version(self._engine)
        if v == self.version:
            return False
        loaded = active(self._engine)
        self.filters.replace(loaded)
        self.version = v
        if loaded:
            log.info("verdict filters loaded (version %d): %s", v,
                     ", ".join(f"{c} #{f.id}" for c, f in sorted(loaded.items())))
        return True
