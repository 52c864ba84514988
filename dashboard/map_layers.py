"""The tiled map's layers as GeoJSON FeatureCollections: grids, today's coverage, tracks, cars, cases, cameras.

Pure functions of plain data (no Dash, no browser): dashboard/map_leaflet.py hands each collection to one
dash_leaflet.GeoJSON, and assets/map.js styles every feature from its own ``properties.style`` (paths) or
``properties.kind`` (markers), so the colours are decided here, where they are tested. Every position goes
through ``to_tiles`` (dashboard/map_tiles.py): the identity for WGS-84 tiles, the GCJ-02 shift for AMap.

Colours: a grid by the open cases of its subtree as on the plain map (dashboard/map.py); a case by its state
(new, in progress, awaiting check, overdue) with its age as strength (fresh cases solid and large, old ones
faint); a camera by its reader's state; cars point where they last drove.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from dashboard import map as gridmap
from dashboard.map_tiles import Projector, project_point, project_points, project_rings
from geo.grids import GridFeature

Collection = dict[str, Any]

# Case state -> colour: new (reported, not yet looked at), being worked on, handled awaiting the check, overdue.
NEW, WORKING, HANDLED, OVERDUE = "new", "working", "handled", "overdue"
CASE_COLOURS = {NEW: "#f97316", WORKING: "#facc15", HANDLED: "#38bdf8", OVERDUE: "#e11d48"}
_HANDLED_STATUSES = frozenset({"handled", "checked"})
# Age -> (radius px, fill opacity): what needs attention now stands out, what has waited for days recedes.
FRESH, TODAY, OLDER = "fresh", "today", "older"
AGE_LIMITS_S = ((3600.0, FRESH), (86400.0, TODAY))
AGE_LOOK = {FRESH: (10, 0.95), TODAY: (8, 0.75), OLDER: (6, 0.45)}
CAMERA_COLOURS = {"online": "#22c55e", "starting": "#94a3b8", "stalled": "#f59e0b", "offline": "#ef4444",
                  "disabled": "#64748b"}
COVERAGE_STYLE = {"color": "#22d3ee", "weight": 0, "fillColor": "#22d3ee", "fillOpacity": 0.35}
TRACK_STYLE = {"color": "#38bdf8", "weight": 3, "opacity": 0.8}
_M_PER_DEG_LAT = 111_320.0


def collection(features: list[dict[str, Any]]) -> Collection:
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _polygons(features: Sequence[GridFeature], to_tiles: Projector) -> list[dict[str, Any]]:
    """Each feature's outer rings as a MultiPolygon in the tiles' datum (the whole layer shifted at once)."""
    per_feature = [gridmap.outer_rings(f.geometry) for f in features]
    shifted = project_rings([r for rings in per_feature for r in rings], to_tiles)
    out, start = [], 0
    for rings in per_feature:
        mine, start = shifted[start:start + len(rings)], start + len(rings)
        out.append({"type": "MultiPolygon", "coordinates": [[r] for r in mine if r]})
    return out


def grid_layer(features: Sequence[GridFeature], counts: Mapping[str, Sequence[int]], focus: str | None,
               texts: gridmap.MapTexts, to_tiles: Projector) -> Collection:
    """The grids a focus shows (dashboard/map.py's levels), coloured by their subtree's open cases, and the
    focused grid's outline around its children."""
    shown = gridmap.shown_features(features, focus)
    outlined = [f for f in features if f.code == focus and f not in shown]
    geometries = _polygons([*outlined, *shown], to_tiles)
    out: list[dict[str, Any]] = []
    for f, geometry in zip(outlined, geometries, strict=False):
        out.append(_feature(geometry, code=None, name=f.name, status="outline", style={
            "color": "#38bdf8", "weight": 3, "dashArray": "6 6", "fill": False, "interactive": False}))
    for f, geometry in zip(shown, geometries[len(outlined):], strict=True):
        open_cases, overdue = (int(v) for v in counts.get(f.code, (0, 0)))
        status = gridmap.grid_status(open_cases, overdue)
        out.append(_feature(
            geometry, code=f.code, name=f.name, status=status,
            tooltip=f"<b>{f.name}</b><br>{f.code}<br>{texts.open}: {open_cases}<br>{texts.overdue}: {overdue}",
            style={"color": gridmap.COLOURS[status], "weight": 2, "fillColor": gridmap.COLOURS[status],
                   "fillOpacity": _FILL_OPACITY[status]}))
    return collection(out)


# Lighter than the plain map's fills (dashboard/map.py): the streets under a grid must stay readable.
_FILL_OPACITY = {gridmap.OK: 0.12, gridmap.OPEN: 0.22, gridmap.OVERDUE: 0.3}


def shown_bounds(features: Sequence[GridFeature], focus: str | None,
                 to_tiles: Projector) -> list[list[float]] | None:
    """[[south, west], [north, east]] around what a focus shows, in the tiles' datum (Leaflet's bounds)."""
    shown = gridmap.shown_features(features, focus)
    box = gridmap.bounds([f for f in features if f.code == focus] or shown)
    if box is None:
        return None
    (s, w), (n, e) = project_point(box[1], box[0], to_tiles), project_point(box[3], box[2], to_tiles)
    return [[s, w], [n, e]]


def case_state(status: str, overdue: bool) -> str:
    if overdue:
        return OVERDUE
    if status == "reported":
        return NEW
    return HANDLED if status in _HANDLED_STATUSES else WORKING


def age_class(age_s: float) -> str:
    return next((name for limit, name in AGE_LIMITS_S if age_s < limit), OLDER)


def case_layer(cases: Sequence[Mapping[str, Any]], now: datetime, labels: Mapping[str, str],
               to_tiles: Projector) -> Collection:
    """Open cases ``{id, lat, lon, status, overdue, reported_at: datetime, label}`` as coloured points;
    ``labels``: the words for each case state (``new``, ``working``, ...) in the page's language."""
    placed = _placed(cases)
    out = []
    for c, (lat, lon) in zip(placed, _shifted(placed, to_tiles), strict=True):
        state = case_state(str(c.get("status")), bool(c.get("overdue")))
        age = age_class(max(0.0, (now - c["reported_at"]).total_seconds()))
        radius, opacity = AGE_LOOK[age]
        colour = CASE_COLOURS[state]
        out.append(_feature(
            {"type": "Point", "coordinates": [lon, lat]}, kind="case", case_id=str(c["id"]), state=state, age=age,
            tooltip=f"<b>{c.get('label', '')}</b><br>{labels.get(state, state)} · {c.get('age_text', '')}",
            style={"radius": radius, "color": "#ffffff", "weight": 1.5, "fillColor": colour,
                   "fillOpacity": opacity}))
    return collection(out)


def _placed(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [i for i in items if i.get("lat") is not None and i.get("lon") is not None]


def _shifted(placed: Sequence[Mapping[str, Any]], to_tiles: Projector) -> list[tuple[float, float]]:
    """(lat, lon) of each item in the tiles' datum, the layer in one call."""
    return project_points([(float(i["lat"]), float(i["lon"])) for i in placed], to_tiles)


def heading_deg(track: Sequence[Sequence[float]]) -> float | None:
    """Compass bearing (0 = north, clockwise) of the last move in ``[[lat, lon], ...]``; None before any move."""
    pts = [p for p in track if p and len(p) >= 2]
    last = pts[-1] if pts else None
    for prev in reversed(pts[:-1]):
        if last is not None and (prev[0], prev[1]) != (last[0], last[1]):
            dy = float(last[0]) - float(prev[0])
            dx = (float(last[1]) - float(prev[1])) * math.cos(math.radians(float(last[0])))
            return round(math.degrees(math.atan2(dx, dy)) % 360.0, 1)
    return None


def track_layer(vehicles: Sequence[Mapping[str, Any]], to_tiles: Projector) -> Collection:
    """Each car's track today (``track``: [[lat, lon], ...]) as a line."""
    drawn = [(v, [[p[1], p[0]] for p in (v.get("track") or []) if p and len(p) >= 2]) for v in vehicles]
    drawn = [(v, line) for v, line in drawn if len(line) >= 2]
    lines = project_rings([line for _v, line in drawn], to_tiles)
    return collection([_feature({"type": "LineString", "coordinates": line}, vehicle=str(v.get("id")),
                                style=TRACK_STYLE) for (v, _raw), line in zip(drawn, lines, strict=True)])


def car_layer(vehicles: Sequence[Mapping[str, Any]], texts: gridmap.MapTexts, to_tiles: Projector) -> Collection:
    """Each car where it last was, pointing where it last drove (``heading``: degrees, None = no arrow)."""
    placed = _placed(vehicles)
    out = []
    for v, (lat, lon) in zip(placed, _shifted(placed, to_tiles), strict=True):
        name = str(v.get("name") or v.get("id"))
        state = texts.states.get(str(v.get("status")), str(v.get("status") or ""))
        link = texts.states.get(str(v.get("link")), str(v.get("link") or ""))
        out.append(_feature({"type": "Point", "coordinates": [lon, lat]}, kind="car", vehicle=str(v.get("id")),
                            name=name, heading=heading_deg(v.get("track") or []), link=str(v.get("link") or ""),
                            tooltip=f"<b>{texts.vehicle}: {name}</b><br>{state} · {link}"))
    return collection(out)


def coverage_layer(cells: Sequence[Mapping[str, Any]], cell_m: float, to_tiles: Projector) -> Collection:
    """The street cells driven today (``/api/coverage``'s ``cells``: centre lat/lon) as squares of their size, all in
    one MultiPolygon: one SVG path in the browser and a few objects here, where a feature per cell made a city's
    5,000 cells cost 5,000 paths and the server a tenth of a second in garbage collection every update."""
    if not cells:
        return collection([])
    # The centre is shifted and the square drawn around it: GCJ-02's offset does not change within 50 m.
    centres = np.asarray(_shifted(cells, to_tiles), dtype=np.float64).reshape(-1, 2)
    half_lat = cell_m / 2 / _M_PER_DEG_LAT
    half_lon = half_lat / np.maximum(np.cos(np.radians(centres[:, 0])), 0.05)
    s, n = centres[:, 0] - half_lat, centres[:, 0] + half_lat
    w, e = centres[:, 1] - half_lon, centres[:, 1] + half_lon
    # (cells, 1 ring, 5 corners, lon/lat): south-west, south-east, north-east, north-west, back to south-west.
    squares = np.stack([np.stack([w, s], 1), np.stack([e, s], 1), np.stack([e, n], 1), np.stack([w, n], 1),
                        np.stack([w, s], 1)], axis=1)[:, None, :, :]
    return collection([_feature({"type": "MultiPolygon", "coordinates": np.round(squares, 6).tolist()},
                                cells=len(cells), style=COVERAGE_STYLE)])


def camera_layer(cameras: Sequence[Mapping[str, Any]], labels: Mapping[str, str], to_tiles: Projector) -> Collection:
    """Fixed cameras ``{id, name, state, lat, lon}`` coloured by their reader's state."""
    placed = _placed(cameras)
    out = []
    for cam, (lat, lon) in zip(placed, _shifted(placed, to_tiles), strict=True):
        state = str(cam.get("state") or "offline")
        out.append(_feature({"type": "Point", "coordinates": [lon, lat]}, kind="camera", camera=str(cam["id"]),
                            state=state, colour=CAMERA_COLOURS.get(state, CAMERA_COLOURS["offline"]),
                            tooltip=f"<b>{cam.get('name', cam['id'])}</b><br>{labels.get(state, state)}"))
    return collection(out)
