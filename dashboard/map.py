"""The wall's grid map as a plain Plotly figure dict: grid polygons drawn as filled scatter traces on lon/lat axes.

No tile server and no Plotly geo (which fetches its base map from a CDN): the polygons of the stored grid map
are the map, so the wall works on a closed network. Pure functions of their arguments, testable without a
browser; dashboard/pages/wall.py only feeds them.

With a tile source configured (settings ``map``) the wall shows the tiled map instead: dashboard/map_leaflet.py,
built on dash-leaflet rather than Plotly's tile maps (``scattermap``), because those draw with MapLibre GL, which
needs WebGL (a wall PC without a GPU driver and headless CI get a blank panel) and a glyph server for any text,
while Leaflet draws tiles as plain <img> and shapes as SVG: it works in any browser, ships inside its wheel (no
CDN), and a tile server that fails is visible in the DOM, so the map can say so over grids that stay drawn. It
uses this module's levels (``shown_features``) and colours (``grid_status``, ``COLOURS``).

Levels: with no focus the map shows the sub-district offices (level 1); focusing a grid shows its children
(an office's communities, a community's grids); a level-3 grid focused shows itself alone. Each grid is
coloured by the open cases of its whole subtree: green none, yellow open, red any overdue.

Vehicles: ``vehicles`` takes plain dicts ``{id, name, status, link, lat, lon, track: [[lat, lon], ...]}``
(fleet/vehicles.py's GET /api/vehicles); ``extra_traces`` takes any further Plotly traces, drawn on top.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo.grids import GridFeature

OK, OPEN, OVERDUE = "ok", "open", "overdue"
COLOURS = {OK: "#22c55e", OPEN: "#f59e0b", OVERDUE: "#f43f5e"}
FILLS = {OK: "rgba(34,197,94,0.28)", OPEN: "rgba(245,158,11,0.38)", OVERDUE: "rgba(244,63,94,0.45)"}
FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, sans-serif"
PAD = 0.06  # of the shown area's size, around it


@dataclass(frozen=True)
class MapTexts:
    """The words the figure shows (hover labels), already in the page's language."""

    open: str = "Open cases"
    overdue: str = "Overdue"
    alert: str = "Alert"
    vehicle: str = "Vehicle"
    # The crew's status and the link state by their codes (fleet.vehicles), e.g. {"on_patrol": "On patrol"}.
    states: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GridMap:
    """The figure and, per trace, the grid code a click on it means (None: not a grid)."""

    figure: dict[str, Any]
    trace_codes: list[str | None]


def grid_status(open_cases: int, overdue: int) -> str:
    """green / yellow / red as ok / open / overdue: overdue wins, then any open case."""
    if overdue > 0:
        return OVERDUE
    return OPEN if open_cases > 0 else OK


def shown_features(features: Sequence[GridFeature], focus: str | None) -> list[GridFeature]:
    """What a focus shows: the offices, a grid's children, or a childless grid itself."""
    if focus is None:
        return sorted((f for f in features if f.parent is None), key=lambda f: f.code)
    children = sorted((f for f in features if f.parent == focus), key=lambda f: f.code)
    if children:
        return children
    return [f for f in features if f.code == focus]


def focus_path(features: Sequence[GridFeature], focus: str | None) -> list[GridFeature]:
    """The focused grid and its parents, top-level office first (for the breadcrumb)."""
    by_code = {f.code: f for f in features}
    path: list[GridFeature] = []
    code = focus
    while code is not None and code in by_code and len(path) < 8:
        path.append(by_code[code])
        code = by_code[code].parent
    return path[::-1]


def next_focus(features: Sequence[GridFeature], clicked: str | None, current: str | None) -> str | None:
    """Where a click on grid ``clicked`` leads: into it (unknown codes keep the current focus)."""
    if clicked is None or not any(f.code == clicked for f in features):
        return current
    return clicked


def parent_focus(features: Sequence[GridFeature], focus: str | None) -> str | None:
    by_code = {f.code: f for f in features}
    return by_code[focus].parent if focus in by_code else None


def outer_rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    """The outer ring of each polygon of a GeoJSON Polygon or MultiPolygon ([lon, lat] positions)."""
    coords = geometry.get("coordinates") or []
    polygons = [coords] if geometry.get("type") == "Polygon" else coords
    return [poly[0] for poly in polygons if poly]


def _xy(rings: Iterable[Sequence[Sequence[float]]]) -> tuple[list[float | None], list[float | None]]:
    """Rings joined with gaps: Plotly fills each gap-separated part of a "toself" trace on its own."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for ring in rings:
        if xs:
            xs.append(None)
            ys.append(None)
        xs += [float(p[0]) for p in ring]
        ys += [float(p[1]) for p in ring]
    return xs, ys


def bounds(features: Iterable[GridFeature]) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the features' outer rings, None for none."""
    lons: list[float] = []
    lats: list[float] = []
    for f in features:
        for ring in outer_rings(f.geometry):
            lons += [float(p[0]) for p in ring]
            lats += [float(p[1]) for p in ring]
    if not lons:
        return None
    return min(lons), min(lats), max(lons), max(lats)


def label_point(feature: GridFeature) -> tuple[float, float]:
    """(lon, lat) inside the grid's largest polygon, where its name is written."""
    rings = outer_rings(feature.geometry)
    ring = max(rings, key=lambda r: _area(r)) if rings else [[0.0, 0.0]]
    # The vertex mean of a grid cell (convex in practice) lies inside it; the box centre may not for an L shape.
    pts = ring[:-1] if len(ring) > 1 and list(ring[0]) == list(ring[-1]) else ring
    return sum(float(p[0]) for p in pts) / len(pts), sum(float(p[1]) for p in pts) / len(pts)


def _area(ring: Sequence[Sequence[float]]) -> float:
    pairs = zip(ring, ring[1:], strict=False)
    return abs(sum(float(a[0]) * float(b[1]) - float(b[0]) * float(a[1]) for a, b in pairs)) / 2


def _grid_trace(f: GridFeature, status: str, open_cases: int, overdue: int, texts: MapTexts) -> dict[str, Any]:
    xs, ys = _xy(outer_rings(f.geometry))
    hover = f"<b>{f.name}</b><br>{f.code}<br>{texts.open}: {open_cases}<br>{texts.overdue}: {overdue}"
    return {
        "type": "scatter", "mode": "lines", "x": xs, "y": ys, "fill": "toself", "fillcolor": FILLS[status],
        "line": {"color": COLOURS[status], "width": 2}, "name": f.name, "hoveron": "fills+points",
        "text": hover, "hoverinfo": "text", "customdata": [f.code] * len(xs), "meta": {"grid": f.code,
                                                                                      "status": status},
    }


def _outline_trace(f: GridFeature) -> dict[str, Any]:
    xs, ys = _xy(outer_rings(f.geometry))
    return {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip", "name": f.name,
            "line": {"color": "#38bdf8", "width": 3, "dash": "dot"}}


def _labels_trace(shown: Sequence[GridFeature], counts: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    points = [label_point(f) for f in shown]
    return {
        "type": "scatter", "mode": "markers+text", "x": [p[0] for p in points], "y": [p[1] for p in points],
        "text": [f.name for f in shown], "textposition": "middle center", "hoverinfo": "skip",
        "textfont": {"color": "#f8fafc", "size": 13, "family": FONT},
        # A wide, nearly invisible marker under each name: something to click besides the fill.
        "marker": {"size": 30, "color": "rgba(255,255,255,0.01)"},
        "customdata": [f.code for f in shown], "name": "labels",
        "meta": {"open": [int(counts.get(f.code, (0, 0))[0]) for f in shown]},
    }


def alert_trace(alerts: Sequence[Mapping[str, Any]], texts: MapTexts) -> dict[str, Any]:
    """Alert positions: ``{lat, lon, label}`` dicts (label: the category in the page's language)."""
    placed = [a for a in alerts if a.get("lat") is not None and a.get("lon") is not None]
    return {
        "type": "scatter", "mode": "markers", "name": texts.alert,
        "x": [float(a["lon"]) for a in placed], "y": [float(a["lat"]) for a in placed],
        "text": [f"{texts.alert}: {a.get('label', '')}" for a in placed], "hoverinfo": "text",
        "marker": {"size": 11, "color": "#fb7185", "line": {"color": "#ffffff", "width": 1.5}, "symbol": "circle"},
    }


def vehicle_traces(vehicles: Sequence[Mapping[str, Any]], texts: MapTexts) -> list[dict[str, Any]]:
    """Each vehicle's recent track as a line and its last position as a labelled triangle."""
    traces: list[dict[str, Any]] = []
    for v in vehicles:
        track = [p for p in (v.get("track") or []) if p and len(p) >= 2]
        if len(track) >= 2:
            traces.append({"type": "scatter", "mode": "lines", "hoverinfo": "skip", "name": f"track {v.get('id')}",
                           "x": [float(p[1]) for p in track], "y": [float(p[0]) for p in track],
                           "line": {"color": "rgba(56,189,248,0.7)", "width": 2}})
    placed = [v for v in vehicles if v.get("lat") is not None and v.get("lon") is not None]
    if placed:
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": texts.vehicle,
            "x": [float(v["lon"]) for v in placed], "y": [float(v["lat"]) for v in placed],
            "text": [str(v.get("name") or v.get("id")) for v in placed], "textposition": "top center",
            "textfont": {"color": "#7dd3fc", "size": 12, "family": FONT},
            "hovertext": [f"{texts.vehicle}: {v.get('name') or v.get('id')}<br>"
                          f"{texts.states.get(str(v.get('status')), v.get('status') or '')} · "
                          f"{texts.states.get(str(v.get('link')), v.get('link') or '')}" for v in placed],
            "hoverinfo": "text",
            "marker": {"symbol": "triangle-up", "size": 16, "color": "#38bdf8",
                       "line": {"color": "#0c4a6e", "width": 1.5}},
        })
    return traces


def _layout(box: tuple[float, float, float, float] | None, focus: str | None) -> dict[str, Any]:
    axis = {"visible": False, "showgrid": False, "zeroline": False, "fixedrange": True}
    xaxis: dict[str, Any] = dict(axis)
    yaxis: dict[str, Any] = dict(axis)
    if box is not None:
        x0, y0, x1, y1 = box
        dx, dy = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
        xaxis["range"] = [x0 - dx * PAD, x1 + dx * PAD]
        yaxis["range"] = [y0 - dy * PAD, y1 + dy * PAD]
        # A degree of longitude is cos(latitude) times shorter than one of latitude: keep the shapes true.
        yaxis.update(scaleanchor="x", scaleratio=1 / max(math.cos(math.radians((y0 + y1) / 2)), 0.05),
                     constrain="domain")
        xaxis["constrain"] = "domain"
    return {
        "xaxis": xaxis, "yaxis": yaxis, "margin": {"l": 4, "r": 4, "t": 4, "b": 4}, "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "dragmode": False,
        "hovermode": "closest", "clickmode": "event", "font": {"family": FONT, "color": "#e8eef9"},
        "hoverlabel": {"font": {"family": FONT, "size": 14}},
        "uirevision": focus or "top",
    }


def grid_map(
    features: Sequence[GridFeature],
    counts: Mapping[str, Sequence[int]],
    focus: str | None = None,
    alerts: Sequence[Mapping[str, Any]] = (),
    vehicles: Sequence[Mapping[str, Any]] = (),
    extra_traces: Sequence[Mapping[str, Any]] = (),
    texts: MapTexts | None = None,
) -> GridMap:
    """The map of ``focus`` (None: the whole territory); ``counts``: {code: (open, overdue)} of every level."""
    texts = texts or MapTexts()
    shown = shown_features(features, focus)
    traces: list[dict[str, Any]] = []
    codes: list[str | None] = []
    focused = [f for f in features if f.code == focus and f not in shown]
    for f in focused:
        traces.append(_outline_trace(f))
        codes.append(None)
    for f in shown:
        open_cases, overdue = (int(v) for v in counts.get(f.code, (0, 0)))
        traces.append(_grid_trace(f, grid_status(open_cases, overdue), open_cases, overdue, texts))
        codes.append(f.code)
    if shown:
        traces.append(_labels_trace(shown, counts))
        codes.append(None)  # a label's code comes with the clicked point's customdata
    traces.append(alert_trace(alerts, texts))
    codes.append(None)
    for t in [*vehicle_traces(vehicles, texts), *extra_traces]:
        traces.append(dict(t))
        codes.append(None)
    box = bounds(focused or shown)
    return GridMap({"data": traces, "layout": _layout(box, focus)}, codes)


def clicked_code(click: Mapping[str, Any] | None, trace_codes: Sequence[str | None]) -> str | None:
    """The grid code a Plotly clickData names: a point's customdata, else the clicked fill's trace."""
    points = (click or {}).get("points") or []
    if not points:
        return None
    point = points[0]
    custom = point.get("customdata")
    if isinstance(custom, str) and custom:
        return custom
    curve = point.get("curveNumber")
    if isinstance(curve, int) and 0 <= curve < len(trace_codes):
        return trace_codes[curve]
    return None
