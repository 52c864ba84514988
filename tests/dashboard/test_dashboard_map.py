"""The grid map figure, without a browser: offline traces only, colours by open/overdue cases, zoom by level."""
from __future__ import annotations

from dashboard import map as gridmap
from geo.grids import load_geojson
from gridwatch.settings import DEMO_GRIDS

OFFICE_1, OFFICE_2 = "410105001", "410105002"
COMMUNITY_1 = "410105001001"
GRID_1, GRID_2 = "410105001001001", "410105001001002"


def _grid_traces(fig: dict) -> dict[str, dict]:
    return {t["meta"]["grid"]: t for t in fig["data"] if isinstance(t.get("meta"), dict) and "grid" in t["meta"]}


def test_top_level_shows_offices_coloured_by_their_subtree_without_any_tile_server() -> None:
    features = load_geojson(DEMO_GRIDS)
    counts = {OFFICE_1: (3, 1), COMMUNITY_1: (3, 1), GRID_1: (2, 1), GRID_2: (1, 0)}
    m = gridmap.grid_map(features, counts)
    grids = _grid_traces(m.figure)
    assert set(grids) == {OFFICE_1, OFFICE_2}
    assert grids[OFFICE_1]["meta"]["status"] == gridmap.OVERDUE
    assert grids[OFFICE_1]["fillcolor"] == gridmap.FILLS[gridmap.OVERDUE]
    assert grids[OFFICE_2]["meta"]["status"] == gridmap.OK
    assert "Open cases: 3" in grids[OFFICE_1]["text"]
    # Nothing to download: plain scatter traces on lon/lat axes, no geo or mapbox base map.
    assert {t["type"] for t in m.figure["data"]} == {"scatter"}
    assert not {"geo", "mapbox", "map"} & set(m.figure["layout"])
    # Each trace says which grid a click on it means.
    assert [c for c in m.trace_codes if c] == [OFFICE_1, OFFICE_2]
    x0, x1 = m.figure["layout"]["xaxis"]["range"]
    assert x0 < 113.66 and x1 > 113.72


def test_zooming_shows_children_then_a_childless_grid_alone() -> None:
    features = load_geojson(DEMO_GRIDS)
    counts = {GRID_1: (1, 0)}
    office = _grid_traces(gridmap.grid_map(features, counts, OFFICE_1).figure)
    assert set(office) == {"410105001001", "410105001002"}
    community = gridmap.grid_map(features, counts, COMMUNITY_1)
    grids = _grid_traces(community.figure)
    assert set(grids) == {GRID_1, GRID_2, "410105001001003", "410105001001004"}
    assert grids[GRID_1]["meta"]["status"] == gridmap.OPEN
    assert grids[GRID_2]["meta"]["status"] == gridmap.OK
    # The focused community is outlined around its grids and the view fits it.
    assert community.figure["data"][0]["line"]["dash"] == "dot"
    y0, y1 = community.figure["layout"]["yaxis"]["range"]
    assert 34.78 < y0 < 34.785 and 34.80 < y1 < 34.81
    leaf = _grid_traces(gridmap.grid_map(features, counts, GRID_1).figure)
    assert set(leaf) == {GRID_1}
    assert [f.code for f in gridmap.focus_path(features, GRID_1)] == [OFFICE_1, COMMUNITY_1, GRID_1]
    assert gridmap.parent_focus(features, GRID_1) == COMMUNITY_1


def test_a_click_names_its_grid_by_point_or_by_fill() -> None:
    features = load_geojson(DEMO_GRIDS)
    m = gridmap.grid_map(features, {})
    by_label = {"points": [{"curveNumber": len(m.trace_codes) - 2, "customdata": OFFICE_2}]}
    assert gridmap.clicked_code(by_label, m.trace_codes) == OFFICE_2
    by_fill = {"points": [{"curveNumber": m.trace_codes.index(OFFICE_1)}]}
    assert gridmap.clicked_code(by_fill, m.trace_codes) == OFFICE_1
    assert gridmap.clicked_code({"points": []}, m.trace_codes) is None
    assert gridmap.next_focus(features, OFFICE_1, None) == OFFICE_1
    assert gridmap.next_focus(features, "nowhere", COMMUNITY_1) == COMMUNITY_1


def test_status_colours() -> None:
    assert gridmap.grid_status(0, 0) == gridmap.OK
    assert gridmap.grid_status(4, 0) == gridmap.OPEN
    assert gridmap.grid_status(4, 1) == gridmap.OVERDUE


def test_alerts_and_vehicles_are_drawn_on_top() -> None:
    features = load_geojson(DEMO_GRIDS)
    alerts = [{"lat": 34.79, "lon": 113.67, "label": "占道经营"}, {"lat": None, "lon": None, "label": "x"}]
    vehicles = [{"id": "car-1", "name": "豫A·G2024", "status": "patrolling", "link": "4G",
                 "lat": 34.78, "lon": 113.68, "track": [[34.77, 113.67], [34.775, 113.675], [34.78, 113.68]]}]
    extra = [{"type": "scatter", "x": [113.7], "y": [34.78], "name": "extra"}]
    fig = gridmap.grid_map(features, {}, alerts=alerts, vehicles=vehicles, extra_traces=extra).figure
    names = [t.get("name") for t in fig["data"]]
    alert = next(t for t in fig["data"] if t.get("name") == "Alert")
    assert alert["x"] == [113.67] and alert["y"] == [34.79]  # the alert without a position is left out
    track = next(t for t in fig["data"] if t.get("name") == "track car-1")
    assert track["x"] == [113.67, 113.675, 113.68] and track["y"] == [34.77, 34.775, 34.78]
    car = next(t for t in fig["data"] if t.get("name") == "Vehicle")
    assert car["marker"]["symbol"] == "triangle-up" and car["text"] == ["豫A·G2024"]
    assert names[-1] == "extra"
