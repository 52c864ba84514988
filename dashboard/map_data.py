"""What the tiled map draws for one viewer, read through the same scoped queries as the rest of the dashboard.

* cases: the open cases of the viewer's subtree (the wall's queue filter, ``alerts.casebook``), each also passing
  ``policy.case_visible`` as on the desk;
* cars and their tracks: fleet.vehicles' vehicles cut by ``dashboard.scoped.vehicles`` (as GET /api/vehicles);
* coverage: today's street cells cut by ``dashboard.scoped.coverage`` (as GET /api/coverage);
* cameras: the configured fixed cameras (a position in settings) that ``dashboard.scoped.cameras_allowed`` lets
  the viewer watch, with their reader's state.

Each part fails on its own (logged): a map without its car layer is still the map. Read at most once per
``TTL_S`` per scope for all viewers together, as dashboard.wall_data does for the figures.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import flask

from alerts.casebook import CaseFilter
from dashboard import page_services, scoped, wall_queries
from dashboard.auth import policy, session
from dashboard.context import current
from fleet.vehicles import Fleet

log = logging.getLogger(__name__)

MAX_CASES = 500  # open cases drawn; beyond that the map is a blur of dots anyway
TRACK_POINTS_MAX = 200  # of each car's track today, as the plain map (dashboard.wall_data)
TTL_S = 1.0


@dataclass(frozen=True)
class MapData:
    """Plain data for dashboard.map_layers."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    cell_m: float = 50.0
    cameras: list[dict[str, Any]] = field(default_factory=list)


def _case_dict(c: Any) -> dict[str, Any]:
    return {"id": c.id, "lat": c.lat, "lon": c.lon, "status": c.status, "overdue": c.overdue,
            "reported_at": c.reported_at, "category": c.category}


def read_cases(user: session.AuthUser, now: datetime) -> list[dict[str, Any]]:
    svc = page_services.current()
    scope = user.scope_grid
    if scope is not None and scope not in svc.router:
        return []
    views = svc.book.queue(CaseFilter(open_only=True, grid=scope, limit=MAX_CASES, newest_seen_first=True), now=now)
    return [_case_dict(c) for c in views if policy.case_visible(user, c)]


def read_vehicles(user: session.AuthUser, now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(cars as the map's markers, today's coverage), both cut to what ``user`` may see."""
    ctx = current()
    fleet = Fleet.for_settings(ctx.settings, ctx.redis)
    views = scoped.vehicles(user, [v.to_dict() for v in fleet.vehicles(now, max_track_points=TRACK_POINTS_MAX)])
    cover = scoped.coverage(user, fleet.coverage(now.astimezone(fleet.tz).date()))
    return [wall_queries.vehicle_marker(v) for v in views], cover


def read_cameras(user: session.AuthUser, now: datetime) -> list[dict[str, Any]]:
    ctx = current()
    allowed = scoped.cameras_allowed(user)
    fixed = [c for c in ctx.settings.cameras if c.lat is not None and c.lon is not None
             and (allowed is None or c.id in allowed)]
    views = wall_queries.camera_views(ctx.redis, fixed, now, ctx.settings.locale.timezone)
    states = {v["id"]: v["state"] for v in views}
    return [{"id": c.id, "name": c.name, "lat": c.lat, "lon": c.lon, "state": states.get(c.id, "offline")}
            for c in fixed]


def _part(what: str, read: Any, default: Any) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - one missing layer must not blank the map
        log.warning("tiled map: %s unavailable: %s", what, exc)
        return default


def gather(user: session.AuthUser, now: datetime | None = None) -> MapData:
    """Everything the map draws for ``user`` (uncached)."""
    now = now or datetime.now(UTC)
    cases = _part("cases", lambda: read_cases(user, now), [])
    vehicles, cover = _part("vehicles", lambda: read_vehicles(user, now), ([], {}))
    cameras = _part("cameras", lambda: read_cameras(user, now), [])
    return MapData(cases=cases, vehicles=vehicles, cells=list(cover.get("cells") or []),
                   cell_m=float(cover.get("cell_m") or 50.0), cameras=cameras)


EXTENSION = "gridwatch_map_data"  # this app's cache, beside dashboard.wall_data's: two apps never share one
_lock = threading.Lock()


def cached(user: session.AuthUser) -> MapData:
    """``gather`` shared by every viewer of the same scope for ``TTL_S`` (ten walls read once a second, not ten)."""
    cache: dict[tuple[Any, ...], tuple[float, MapData]] = flask.current_app.extensions.setdefault(EXTENSION, {})
    key = (user.scope_grid, user.department if user.role == "department" else None)
    with _lock:
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
    data = gather(user)
    with _lock:
        cache[key] = (time.monotonic(), data)
    return data
