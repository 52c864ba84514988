"""The tiled map's pure parts: the tile source from settings, the GCJ-02 shift (only for a GCJ-02 source), and the
layers: grids by level and status, cases by state and age, cars with their heading, coverage cells, cameras."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import pytest
from pydantic import ValidationError

from dashboard import map as gridmap
from dashboard import map_layers, map_leaflet, map_tiles
from geo import datum
from geo.grids import load_geojson
from gridwatch.settings import DEMO_GRIDS, MapSettings

OFFICE_1, OFFICE_2 = "410105001", "410105002"
COMMUNITY_1 = "410105001001"
GRID_1 = "410105001001001"
TEXTS = gridmap.MapTexts()
ZZ = (34.7725, 113.6720)  # lat, lon in Zhengzhou: GCJ-02 is a few hundred metres off here


def _source(**kw: object) -> map_tiles.TileSource:
    source = map_tiles.tile_source(MapSettings(tiles_url="http://tiles.local/{z}/{x}/{y}.png", **kw))  # type: ignore[arg-type]
    assert source is not None
    return source


def test_no_tile_url_means_no_tile_source() -> None:
    assert map_tiles.tile_source(MapSettings()) is None


def test_tile_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"\{y\}"):
        MapSettings(tiles_url="http://tiles.local/{z}/{x}.png")
    with pytest.raises(ValidationError, match="subdomains"):
        MapSettings(tiles_url="http://t{s}.tiles.local/{z}/{x}/{y}.png")
    with pytest.raises(ValidationError, match="http"):
        MapSettings(tiles_url="ftp://tiles.local/{z}/{x}/{y}.png")
    with pytest.raises(ValidationError, match="datum"):
        MapSettings(tiles_url="http://tiles.local/{z}/{x}/{y}.png", datum="bd09")  # type: ignore[arg-type]
    amap = _source(datum="gcj02", subdomains="1234", max_zoom=18, attribution="© 高德地图")
    assert amap.layer_props() == {"url": "http://tiles.local/{z}/{x}/{y}.png", "attribution": "© 高德地图",
                                  "maxZoom": 18, "maxNativeZoom": 18, "subdomains": "1234"}


@pytest.mark.parametrize("name", ["wgs84", "cgcs2000"])
def test_wgs84_and_tianditu_tiles_take_our_positions_as_they_are(name: str) -> None:
    to_tiles = _source(datum=name).to_tiles
    assert map_tiles.project_point(*ZZ, to_tiles) == ZZ


def test_gcj02_tiles_get_every_layer_shifted_by_the_datum_code() -> None:
    to_tiles = _source(datum="gcj02").to_tiles
    lon, lat = datum.wgs84_to_gcj02(ZZ[1], ZZ[0])
    assert map_tiles.project_point(*ZZ, to_tiles) == (round(lat, 6), round(lon, 6))
    features = load_geojson(DEMO_GRIDS)
    plain = map_layers.grid_layer(features, {}, None, TEXTS, _source().to_tiles)
    shifted = map_layers.grid_layer(features, {}, None, TEXTS, to_tiles)
    p0 = plain["features"][0]["geometry"]["coordinates"][0][0][0]
    s0 = shifted["features"][0]["geometry"]["coordinates"][0][0][0]
    assert [round(v, 6) for v in datum.wgs84_to_gcj02(p0[0], p0[1])] == s0
    # Several hundred metres in Zhengzhou: a visible error if it were left out.
    assert 0.001 < abs(s0[0] - p0[0]) < 0.01 and 0.0005 < abs(s0[1] - p0[1]) < 0.01
    case = map_layers.case_layer([{"id": "c1", "lat": ZZ[0], "lon": ZZ[1], "status": "reported", "overdue": False,
                                   "reported_at": datetime.now(UTC)}], datetime.now(UTC), {}, to_tiles)
    assert case["features"][0]["geometry"]["coordinates"] == [round(lon, 6), round(lat, 6)]


def test_grid_layer_follows_the_levels_and_colours_of_the_plain_map() -> None:
    features = load_geojson(DEMO_GRIDS)
    same = _source().to_tiles
    top = map_layers.grid_layer(features, {OFFICE_1: (2, 1)}, None, TEXTS, same)
    by_code = {f["properties"]["code"]: f["properties"] for f in top["features"]}
    assert set(by_code) == {OFFICE_1, OFFICE_2}
    assert by_code[OFFICE_1]["status"] == gridmap.OVERDUE
    assert by_code[OFFICE_1]["style"]["color"] == gridmap.COLOURS[gridmap.OVERDUE]
    assert by_code[OFFICE_2]["status"] == gridmap.OK
    assert "Open cases: 2" in by_code[OFFICE_1]["tooltip"]
    community = map_layers.grid_layer(features, {}, COMMUNITY_1, TEXTS, same)
    codes = [f["properties"]["code"] for f in community["features"]]
    assert codes[0] is None and community["features"][0]["properties"]["style"]["fill"] is False  # the outline
    assert len(codes) == 5 and GRID_1 in codes
    (s, w), (n, e) = map_layers.shown_bounds(features, COMMUNITY_1, same) or [[0, 0], [0, 0]]
    assert 34.78 < s < n < 34.81 and 113.6 < w < e < 113.8


def test_cases_are_coloured_by_state_and_fade_with_age() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    raw = [
        {"id": "new", "status": "reported", "overdue": False, "reported_at": now - timedelta(minutes=5)},
        {"id": "working", "status": "dispatched", "overdue": False, "reported_at": now - timedelta(hours=5)},
        {"id": "late", "status": "dispatched", "overdue": True, "reported_at": now - timedelta(days=3)},
        {"id": "check", "status": "handled", "overdue": False, "reported_at": now - timedelta(hours=2)},
        {"id": "nowhere", "status": "reported", "overdue": False, "reported_at": now, "lat": None, "lon": None},
    ]
    cases = [{"lat": ZZ[0], "lon": ZZ[1], **c} for c in raw]
    layer = map_layers.case_layer(cases, now, {"new": "新案件"}, _source().to_tiles)
    props = {f["properties"]["case_id"]: f["properties"] for f in layer["features"]}
    assert set(props) == {"new", "working", "late", "check"}  # no position, no dot
    assert {k: (p["state"], p["age"]) for k, p in props.items()} == {
        "new": ("new", "fresh"), "working": ("working", "today"), "late": ("overdue", "older"),
        "check": ("handled", "today")}
    assert props["late"]["style"]["fillColor"] == map_layers.CASE_COLOURS[map_layers.OVERDUE]
    assert props["new"]["style"]["fillColor"] == map_layers.CASE_COLOURS[map_layers.NEW]
    assert props["new"]["style"]["radius"] > props["working"]["style"]["radius"] > props["late"]["style"]["radius"]
    assert props["new"]["style"]["fillOpacity"] > props["late"]["style"]["fillOpacity"]
    assert "新案件" in props["new"]["tooltip"]


def test_cars_point_where_they_last_drove_and_draw_todays_track() -> None:
    track = [[34.770, 113.670], [34.771, 113.670], [34.771, 113.671], [34.771, 113.671]]  # north, then east, stop
    cars: list[dict[str, Any]] = [
        {"id": "car-1", "name": "豫A·G2024", "status": "on_patrol", "link": "online", "lat": 34.771, "lon": 113.671,
         "track": track},
        {"id": "car-2", "name": "豫A·K7311", "status": "paused", "link": "offline", "lat": 34.78, "lon": 113.68,
         "track": [[34.78, 113.68]]},
        {"id": "car-3", "name": "no fix", "lat": None, "lon": None, "track": []}]
    same = _source().to_tiles
    layer = map_layers.car_layer(cars, gridmap.MapTexts(states={"on_patrol": "巡逻中"}), same)
    props = {f["properties"]["vehicle"]: f["properties"] for f in layer["features"]}
    assert set(props) == {"car-1", "car-2"}
    assert props["car-1"]["heading"] == 90.0  # due east: the last move, the standstill after it ignored
    assert props["car-2"]["heading"] is None  # never moved: a dot, no arrow
    assert "巡逻中" in props["car-1"]["tooltip"]
    assert map_layers.heading_deg([[34.77, 113.67], [34.76, 113.67]]) == 180.0
    lines = map_layers.track_layer(cars, same)["features"]
    assert [f["properties"]["vehicle"] for f in lines] == ["car-1"]
    assert lines[0]["geometry"]["coordinates"][0] == [113.67, 34.77]  # GeoJSON order: lon, lat


def test_coverage_cells_are_squares_of_their_size_and_cameras_take_their_state_colour() -> None:
    same = _source().to_tiles
    cells = map_layers.coverage_layer([{"cell": "a", "lat": 34.77, "lon": 113.67},
                                       {"cell": "b", "lat": 34.771, "lon": 113.67}], 50.0, same)["features"]
    assert len(cells) == 1 and cells[0]["properties"]["cells"] == 2  # one shape, whatever the count
    squares = cells[0]["geometry"]["coordinates"]
    assert len(squares) == 2
    ring = squares[1][0]
    height_m = (ring[2][1] - ring[0][1]) * 111_320
    assert len(ring) == 5 and ring[0] == ring[4] and round(height_m) == 50
    assert ring[0][1] < 34.771 < ring[2][1] and ring[0][0] < 113.67 < ring[1][0]  # around its centre
    assert map_layers.coverage_layer([], 50.0, same)["features"] == []
    cams = map_layers.camera_layer([
        {"id": "gate", "name": "东门", "lat": 34.77, "lon": 113.67, "state": "online"},
        {"id": "dark", "name": "西门", "lat": 34.78, "lon": 113.68, "state": "offline"},
        {"id": "car", "name": "car", "lat": None, "lon": None, "state": "online"}], {"online": "在线"}, same)
    props = {f["properties"]["camera"]: f["properties"] for f in cams["features"]}
    assert set(props) == {"gate", "dark"}
    assert props["gate"]["colour"] == map_layers.CAMERA_COLOURS["online"]
    assert props["dark"]["colour"] == map_layers.CAMERA_COLOURS["offline"]
    assert "在线" in props["gate"]["tooltip"]


def test_the_pages_may_load_images_from_each_tile_host_and_no_other() -> None:
    tianditu = MapSettings(tiles_url="http://t{s}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
                           subdomains="01")
    assert map_tiles.image_sources(tianditu) == " http://t0.tianditu.gov.cn http://t1.tianditu.gov.cn"
    assert map_tiles.image_sources(MapSettings(tiles_url="https://tiles.city.gov.cn:8443/{z}/{x}/{y}.png")) == \
        " https://tiles.city.gov.cn:8443"
    assert map_tiles.image_sources(MapSettings(tiles_url="/tiles/{z}/{x}/{y}.png")) == ""  # 'self' covers it
    assert map_tiles.image_sources(MapSettings()) == ""


def test_only_the_layers_that_changed_are_sent_again() -> None:
    features = load_geojson(DEMO_GRIDS)
    same = _source().to_tiles
    quiet = map_leaflet.empty_layers()
    quiet[0] = map_layers.grid_layer(features, {}, None, TEXTS, same)
    first, sent = map_leaflet.changed(quiet, None)
    assert first == quiet  # nothing in the browser yet: everything goes
    again, sent_again = map_leaflet.changed(quiet, sent)
    assert sent_again == sent and all(x is dash.no_update for x in again)
    moved = [*quiet]
    moved[0] = map_layers.grid_layer(features, {OFFICE_1: (1, 0)}, None, TEXTS, same)  # a new case turns it yellow
    news, _ = map_leaflet.changed(moved, sent)
    assert news[0] == moved[0] and all(x is dash.no_update for x in news[1:])
