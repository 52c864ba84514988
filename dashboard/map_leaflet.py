"""The wall's tiled map panel: a dash_leaflet map with the configured XYZ tiles under the grid polygons, today's
coverage, the cars' tracks, the open cases, the fixed cameras and the cars, each layer in its own pane so that
a redraw never puts a grid above a case.

Why dash-leaflet and not Plotly's tile maps (``scattermap``): Plotly draws its map with MapLibre GL, which needs
WebGL (a wall PC without a GPU driver, and headless CI, get a blank panel) and fetches glyphs for any text
from a font server; Leaflet draws tiles as <img> and vectors as SVG, works everywhere a browser does, and its
tiles are plain DOM, so assets/map.js can tell a tile server that refuses or never answers and say so while
the grids stay drawn. Leaflet and its CSS ship inside the dash-leaflet wheel: nothing comes from a CDN.

The layers are GeoJSON (dashboard/map_layers.py) styled by assets/map.js from each feature's properties. A click
on a grid zooms into it (dashboard/pages/wall.py's ``change_focus``, as on the plain map); a click on a case
opens it on the desk (``desk?case=<id>``, relative to the wall so that it works under any path prefix; a
clientside callback registered by the wall page, assets/map.js's ``openCase``).

The panel renders in every wall; with no tile source configured it stays hidden and dashboard/map.py's plain
Plotly map is shown instead, so every callback finds its components on either wall.
"""
from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard import map as gridmap
from dashboard import map_data, map_layers, texts
from dashboard.auth import session
from dashboard.map_data import MapData
from dashboard.map_tiles import Projector, TileSource
from geo.grids import GridFeature
from gridwatch.i18n import Translator, category_name

_NS = "wall-tilemap"
MAP = _NS
TILES = f"{_NS}-tiles"
GRIDS = f"{_NS}-grids"
COVERAGE = f"{_NS}-coverage"
TRACKS = f"{_NS}-tracks"
CASES = f"{_NS}-cases"
CAMERAS = f"{_NS}-cameras"
CARS = f"{_NS}-cars"
NOTICE = f"{_NS}-notice"
OPENED = f"{_NS}-opened"
VERSIONS = f"{_NS}-versions"  # a hash per layer as last sent: an unchanged layer is not sent (nor redrawn) again
LAYERS = (GRIDS, COVERAGE, TRACKS, CASES, CAMERAS, CARS)
# Leaflet's overlay pane is 400 and its marker pane 600: grids lowest, then what lies on the street, cars on top.
PANES = {GRIDS: 410, COVERAGE: 420, TRACKS: 430, CASES: 450, CAMERAS: 460, CARS: 620}
_FN = "gridwatchMap"


def _fn(name: str) -> dict[str, str]:
    """A function of assets/map.js, as dash-leaflet takes it (a path on ``window``)."""
    return {"variable": f"{_FN}.{name}"}


def case_labels(t: Translator) -> dict[str, str]:
    return {map_layers.NEW: t.gettext("New"), map_layers.WORKING: t.gettext("Being handled"),
            map_layers.HANDLED: t.gettext("Handled, to check"), map_layers.OVERDUE: t.gettext("Overdue")}


def camera_labels(t: Translator) -> dict[str, str]:
    return {state: texts.state_label(state, t) for state in map_layers.CAMERA_COLOURS}


def _ages(then: datetime, now: datetime, t: Translator, seen: dict[int, str]) -> str:
    """The case's age in words ("5 minutes ago") to the minute, to the hour past a day, each wording made once:
    Babel takes a quarter of a millisecond a case, a tenth of a second for a city's open cases every update."""
    seconds = max(0.0, (now - then).total_seconds())
    unit = 60 if seconds < 86400 else 3600
    key = int(seconds // unit) * unit
    if key not in seen:
        seen[key] = texts.age_text(now - timedelta(seconds=key), now, t)
    return seen[key]


@contextmanager
def _cycles_uncollected() -> Iterator[None]:
    """Python's cycle collector paused while a layer set is built: a city's layers are tens of thousands of new
    lists and dicts, which set off full collections over the whole server's heap (measured: about 100 of 125 ms
    CPU of a city's update, bench/map_bench.py). They hold no cycles: reference counting frees them all the same."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def layer_data(features: list[GridFeature], counts: dict[str, Any], focus: str | None, data: MapData,
               now: datetime, t: Translator, map_texts: gridmap.MapTexts, to_tiles: Projector) -> list[dict[str, Any]]:
    """The six collections in LAYERS order."""
    with _cycles_uncollected():
        return _layer_data(features, counts, focus, data, now, t, map_texts, to_tiles)


def _layer_data(features: list[GridFeature], counts: dict[str, Any], focus: str | None, data: MapData,
                now: datetime, t: Translator, map_texts: gridmap.MapTexts,
                to_tiles: Projector) -> list[dict[str, Any]]:
    seen: dict[int, str] = {}
    cases = [dict(c, label=category_name(c["category"], t.lang), age_text=_ages(c["reported_at"], now, t, seen))
             for c in data.cases]
    return [
        map_layers.grid_layer(features, counts, focus, map_texts, to_tiles),
        map_layers.coverage_layer(data.cells, data.cell_m, to_tiles),
        map_layers.track_layer(data.vehicles, to_tiles),
        map_layers.case_layer(cases, now, case_labels(t), to_tiles),
        map_layers.camera_layer(data.cameras, camera_labels(t), to_tiles),
        map_layers.car_layer(data.vehicles, map_texts, to_tiles),
    ]


def viewport(bounds: list[list[float]] | None) -> dict[str, Any] | Any:
    if bounds is None:
        return dash.no_update
    return {"bounds": bounds, "transition": "fitBounds", "options": {"animate": False, "padding": [8, 8]}}


def _layer(layer_id: str, data: dict[str, Any]) -> dl.Pane:
    points = layer_id in (CASES, CAMERAS, CARS)
    return dl.Pane(name=layer_id, style={"zIndex": PANES[layer_id]}, children=dl.GeoJSON(
        id=layer_id, data=data, style=_fn("style"), pointToLayer=_fn("pointToLayer") if points else None,
        # A grid's own click zooms (wall.change_focus), not Leaflet's default fit to the clicked feature.
        zoomToBoundsOnClick=False, pane=layer_id))


def _watch_attrs(source: TileSource | None) -> dict[str, Any]:
    """What assets/map.js's tile watch reads and writes on the box (keywords Dash takes but its stubs don't type)."""
    return {"data-notice-ms": str(source.notice_ms if source else 0), "data-tiles": "none"}


def panel(source: TileSource | None, layers: list[dict[str, Any]], bounds: list[list[float]] | None,
          t: Translator) -> html.Div:
    """The map, hidden when ``source`` is None (the plain map is shown then)."""
    children: list[Any] = []
    if source is not None:
        children.append(dl.TileLayer(id=TILES, **source.layer_props()))
    children += [_layer(layer_id, data) for layer_id, data in zip(LAYERS, layers, strict=True)]
    view: dict[str, Any] = {"bounds": bounds} if source is not None and bounds is not None else \
        {"center": [0, 0], "zoom": 1}
    notice = t.gettext("The base map does not answer: the grids are shown without streets.")
    return html.Div(
        className="gw-tilemap-box", hidden=source is None,
        **_watch_attrs(source),
        children=[
            dl.Map(id=MAP, className="gw-tilemap", children=children, zoomControl=True, scrollWheelZoom=True,
                   doubleClickZoom=False, attributionControl=source is not None, trackViewport=False,
                   maxZoom=source.max_zoom if source else 18, **view),
            html.Div(notice, id=NOTICE, className="gw-map-notice", role="status"),
            dcc.Store(id=OPENED),
            dcc.Store(id=VERSIONS, data=versions(layers)),
        ],
    )


def versions(layers: list[dict[str, Any]]) -> list[str]:
    # Not sorted: map_layers builds its dicts in one order, and sorting a city's layers costs a tenth of a second.
    return [hashlib.blake2b(json.dumps(layer, separators=(",", ":"), ensure_ascii=False).encode(),
                            digest_size=8).hexdigest() for layer in layers]


def changed(layers: list[dict[str, Any]], sent: list[str] | None) -> tuple[list[Any], list[str]]:
    """(each layer, or no_update where the browser has it already; the versions now): Leaflet redraws a layer
    whenever its data arrives, which would flicker a hovered tooltip and churn the DOM every second."""
    now = versions(layers)
    old = sent if sent is not None and len(sent) == len(layers) else [None] * len(layers)
    return [dash.no_update if v == o else layer for layer, v, o in zip(layers, now, old, strict=True)], now


def empty_layers() -> list[dict[str, Any]]:
    return [map_layers.collection([]) for _ in LAYERS]


def register_callbacks() -> None:
    """The panel's own callbacks, registered by the page module (Dash runs a page's module for every app it
    builds; a callback declared at this module's import would reach only the first app)."""
    # A click on a case opens the desk on it: a plain navigation, so the desk checks the viewer's role and scope.
    dash.clientside_callback(
        ClientsideFunction(namespace=_FN, function_name="openCase"),
        Output(OPENED, "data"),
        Input(CASES, "clickData"),
        prevent_initial_call=True,
    )


def tiled_view(source: TileSource, features: list[GridFeature], counts: dict[str, Any], focus: str | None,
               t: Translator, map_texts: gridmap.MapTexts,
               user: session.AuthUser) -> tuple[list[dict[str, Any]], list[list[float]] | None]:
    """(the layers in LAYERS order, the bounds of what ``focus`` shows) for ``user``, in the tiles' datum."""
    to_tiles = source.to_tiles
    layers = layer_data(features, counts, focus, map_data.cached(user), datetime.now(UTC), t, map_texts, to_tiles)
    return layers, map_layers.shown_bounds(features, focus, to_tiles)
