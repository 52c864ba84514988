"""What every wall shows besides video and pushed alerts: the day's figures, open/overdue cases per grid and
today's alert positions, computed at most once per ``ttl_s`` for all viewers together.

Ten walls polling every second cost one set of queries per second, not ten; the ``version`` (a hash of the
content) lets a viewer's callback answer "no change" without sending anything. It reads through the app's services
bundle (dashboard.page_services: its router, case book, figure book and fleet), so the process builds each once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import flask

from alerts import overview
from alerts.casebook import CaseBook, CaseView
from alerts.figures import FigureBook
from dashboard import page_services, wall_queries
from dashboard.context import current
from dashboard.page_services import PageServices
from fleet.vehicles import Fleet
from geo.grids import GridFeature
from geo.routing import GridRouter
from geo.scope import within
from gridwatch import timefmt
from gridwatch.categories import CATEGORIES
from gridwatch.types import Alert

log = logging.getLogger(__name__)

EXTENSION = "gridwatch_wall_data"
POINTS_MAX = 500  # today's newest alerts drawn on the map
TRACK_POINTS_MAX = 200  # of each vehicle's track today
FIGURE_KEYS = ("reported", "collected", "dispatched", "escalated", "closed", "due", "overdue")
QUEUE_SIZE = 40  # open cases on the wall's queue: one item per problem, however often it was seen
_lock = threading.Lock()


@dataclass(frozen=True)
class GridModel:
    features: list[GridFeature]
    names: dict[str, str]
    router: GridRouter  # the bundle's: it follows the stored map (geo.gridmap.GridMapWatcher)


def alert_point(alert: Alert) -> dict[str, Any] | None:
    if alert.lat is None or alert.lon is None:
        return None
    return {"id": alert.id, "lat": round(alert.lat, 6), "lon": round(alert.lon, 6), "category": alert.category}


def day_figures(book: FigureBook, now: datetime, tz: str, scope: str | None = None) -> dict[str, Any]:
    """The figures of the territory (or ``scope``'s subtree) for the cases reported today in the city's zone
    (alerts.figures definitions)."""
    start, end = timefmt.local_day_bounds(now, tz)
    f = book.figures(scope, start, end, as_of=now)
    out: dict[str, Any] = {k: getattr(f, k) for k in FIGURE_KEYS}
    out["closure_rate"] = f.closure_rate
    out["day"] = timefmt.local_day(now, tz).isoformat()
    return out


def queue_item(c: CaseView) -> dict[str, Any]:
    """An open case as the wall's queue shows it, in the field names of a pushed alert so that one renderer
    serves both: ``detected_at`` is when it was last seen, ``sightings`` how often, ``camera_id`` by which
    camera last."""
    cat = CATEGORIES.get(c.category)
    return {
        "id": c.id, "case_id": c.id, "category": c.category,
        "category_zh": cat.name_zh if cat else c.category, "category_en": cat.name_en if cat else c.category,
        "camera_id": c.last_camera_id or "", "grid_code": c.grid_code, "lat": c.lat, "lon": c.lon,
        "snapshot_url": c.snapshot_url, "detected_at": c.last_seen.isoformat(), "first_seen": c.first_seen.isoformat(),
        "sightings": c.sightings, "status": c.status, "seen_clear": c.seen_clear, "confidence": None,
    }


def case_queue(book: CaseBook, router: GridRouter, scope: str | None, now: datetime) -> list[dict[str, Any]]:
    """The open cases of the viewer's subtree, the latest seen first: one queue item per problem."""
    if scope is not None and scope not in router:
        return []
    return [queue_item(c) for c in overview.open_queue(book, scope, now, QUEUE_SIZE)]


def totals(features: list[GridFeature], counts: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Open and overdue cases in the whole map (the offices' sums)."""
    tops = [f.code for f in features if f.parent is None]
    return {"open": sum(counts.get(c, (0, 0))[0] for c in tops),
            "overdue": sum(counts.get(c, (0, 0))[1] for c in tops)}


def version_of(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class WallData:
    """Shared, briefly cached wall data of one dashboard app, read through its services bundle."""

    def __init__(
        self, services: PageServices, tz: str, ttl_s: float = 0.8, map_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic, vehicles: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._services = services
        self._repo = services.repo
        self._tz = tz
        self._ttl = ttl_s
        self._map_ttl = map_ttl_s
        self._clock = clock
        self._vehicles = vehicles
        self._lock = threading.Lock()
        self._grids: GridModel | None = None
        self._grids_at = float("-inf")
        self._summaries: dict[str | None, tuple[float, dict[str, Any]]] = {}  # by viewer scope

    def grids(self) -> GridModel:
        """The stored grid map's drawing, re-read every ``map_ttl_s`` (an import shows up within that), and the
        bundle's router."""
        with self._lock:
            if self._grids is None or self._clock() - self._grids_at >= self._map_ttl:
                features = self._repo.list_grids()
                self._grids = GridModel(features, {f.code: f.name for f in features}, self._services.router)
                self._grids_at = self._clock()
            return self._grids

    def summary(self, now: datetime | None = None, scope: str | None = None) -> dict[str, Any]:
        """{version, figures, counts: {code: [open, overdue]}, totals, points, vehicles}; fresh within ``ttl_s``.

        ``scope``: a grid code whose subtree a viewer is limited to (dashboard.auth.scope_filter), None for the
        whole territory. A moving vehicle changes the version too, so the map redraws it where it is now.
        """
        model = self.grids()
        with self._lock:
            cached = self._summaries.get(scope)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
            now = now or datetime.now(UTC)
            counts = overview.open_case_counts(self._repo, now)
            if scope is not None:
                counts = {code: v for code, v in counts.items() if within(code, scope)}
            start, _end = timefmt.local_day_bounds(now, self._tz)
            points = [p for a in self._repo.recent_alerts(POINTS_MAX) if a.detected_at >= start
                      and within(a.grid_code, scope)
                      for p in [alert_point(a)] if p is not None]
            if scope is None or scope in model.router:
                figures = day_figures(self._services.figures, now, self._tz, scope)
            else:  # a scope the map no longer has: nothing of it to count
                figures = {k: 0 for k in FIGURE_KEYS} | {"closure_rate": None, "day": timefmt.local_day(
                    now, self._tz).isoformat()}
            top = totals(model.features, counts) if scope is None else {
                "open": counts.get(scope, (0, 0))[0], "overdue": counts.get(scope, (0, 0))[1]}
            content: dict[str, Any] = {
                "figures": figures,
                "counts": {code: list(v) for code, v in counts.items()},
                "totals": top,
                "points": points,
                "vehicles": self._read_vehicles(),
                "queue": case_queue(self._services.book, model.router, scope, now),
            }
            content["version"] = version_of(content)
            self._summaries[scope] = (self._clock(), content)
            return content

    def _read_vehicles(self) -> list[dict[str, Any]]:
        if self._vehicles is None:
            return []
        try:
            return self._vehicles()
        except Exception as exc:  # noqa: BLE001 - the map without its vehicle layer is still the map
            log.warning("wall: vehicles unavailable: %s", exc)
            return []


def fleet_vehicles(fleet: Fleet) -> Callable[[], list[dict[str, Any]]]:
    """The vehicle layer's source: the fleet's vehicles (as GET /api/vehicles lists them), for the map."""

    def read() -> list[dict[str, Any]]:
        views = fleet.vehicles(max_track_points=TRACK_POINTS_MAX)
        return [wall_queries.vehicle_marker(v.to_dict()) for v in views]

    return read


def browser_summary(summary: dict[str, Any] | None) -> dict[str, Any]:
    """What the page keeps of the summary: the figures and a version (the map is drawn on the server)."""
    if summary is None:
        return {"version": None, "figures": {}, "totals": {"open": 0, "overdue": 0}, "queue": None}
    figures = dict(summary["figures"], overdue_now=summary["totals"]["overdue"])
    return {"version": summary["version"], "figures": figures, "totals": summary["totals"],
            "queue": summary.get("queue")}


def current_data() -> WallData:
    """The WallData of the app serving this request (made on first use)."""
    ext = flask.current_app.extensions
    data = ext.get(EXTENSION)
    if data is None:
        with _lock:
            data = ext.get(EXTENSION)
            if data is None:
                services = page_services.current()
                data = ext[EXTENSION] = WallData(services, current().settings.locale.timezone,
                                                 vehicles=fleet_vehicles(services.fleet))
    assert isinstance(data, WallData)
    return data
