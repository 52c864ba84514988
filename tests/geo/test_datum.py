"""Map datums: published reference points, the exact GCJ-02 inverse, GeoJSON conversion, and the point that
lands in the wrong grid of a map drawn on a Chinese web map unless the map is converted on import."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from geo import datum
from geo.grids import GridError, GridIndex, load_geojson
from gridwatch.settings import DEMO_GRIDS


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance on a 6371 km sphere: plenty for offsets of centimetres to kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371000.0 * math.asin(math.sqrt(a))


# googollee/eviltransform, python/test.py (TESTS): (wgsLat, wgsLng, gcjLat, gcjLng).
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float) -> None:
    lon, lat = datum.wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-9)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_is_exact_to_a_centimetre(
    wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float
) -> None:
    lon, lat = datum.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert _metres(lon, lat, wgs_lon, wgs_lat) < 0.01  # eviltransform's own exact test allows 0.5 m


def test_wgs84_to_bd09_matches_ipcjs_coordtransform() -> None:
    # ipcjs/coordtransform (Java), CoordinateTransformUtilTest.test_wgs84ToBd09.
    lon, lat = datum.wgs84_to_bd09(118.3013077, 32.2719040)
    assert lon == pytest.approx(118.31309502519456, abs=1e-9)
    assert lat == pytest.approx(32.27614034221775, abs=1e-9)


def test_bd09_to_wgs84_agrees_with_ipcjs_and_round_trips_exactly() -> None:
    # ipcjs/coordtransform test_bd09ToWgs84: (120.698967, 31.324966) -> (120.68817433685123, 31.320969743354603).
    # That library inverts GCJ-02 in one approximate step; the exact inverse differs by under a metre.
    lon, lat = datum.bd09_to_wgs84(120.698967, 31.324966)
    assert _metres(lon, lat, 120.68817433685123, 31.320969743354603) < 1.5
    back_lon, back_lat = datum.wgs84_to_bd09(lon, lat)
    assert _metres(back_lon, back_lat, 120.698967, 31.324966) < 0.01


def test_gcj02_bd09_pair_of_beijing_railway_station() -> None:
    # Published pair (R package "cst" docs, eviltransform's MATLAB test): GCJ-02 (39.90245, 116.42703),
    # BD-09 (39.90851, 116.43351), given to 5 decimals.
    lon, lat = datum.gcj02_to_bd09(116.42703, 39.90245)
    assert (lon, lat) == pytest.approx((116.43351, 39.90851), abs=1e-5)
    lon, lat = datum.bd09_to_gcj02(116.43351, 39.90851)
    assert (lon, lat) == pytest.approx((116.42703, 39.90245), abs=1e-5)


def test_outside_china_gcj02_is_wgs84() -> None:
    # ipcjs/coordtransform testMalaysiaIsNotInChina.
    assert datum.wgs84_to_gcj02(110.32592, 1.46692) == (110.32592, 1.46692)
    assert datum.gcj02_to_wgs84(-0.1276, 51.5072) == (-0.1276, 51.5072)


def test_cgcs2000_is_taken_as_wgs84() -> None:
    assert datum.to_wgs84(113.6720, 34.7725, "cgcs2000") == (113.6720, 34.7725)


def test_the_offset_in_zhengzhou_is_several_hundred_metres() -> None:
    lon, lat = 113.6725, 34.7900  # Jinshui district
    gcj = datum.wgs84_to_gcj02(lon, lat)
    bd = datum.wgs84_to_bd09(lon, lat)
    assert 400 < _metres(lon, lat, *gcj) < 800
    assert 1000 < _metres(lon, lat, *bd) < 1600


@pytest.mark.parametrize("name", ["GCJ-02", "gcj02", "AMap", "bd09", "BD-09", "wgs84", "WGS-84", "CGCS2000"])
def test_datum_names_are_accepted_in_their_usual_spellings(name: str) -> None:
    assert datum.parse_datum(name) in set(datum.Datum)


def test_an_unknown_datum_is_a_clear_error() -> None:
    with pytest.raises(datum.DatumError, match=r"unknown map datum 'utm50'.*wgs84, gcj02, bd09, cgcs2000"):
        datum.parse_datum("utm50")


def test_geojson_conversion_converts_every_position_and_leaves_the_input_alone() -> None:
    shared_corner = [113.66, 34.77]
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "bbox": [113.66, 34.77, 113.68, 34.79],
        "features": [
            {"type": "Feature", "properties": {"code": "a"}, "geometry": {
                "type": "Polygon",
                # A ring built in code may close with its own first point object: converted once, not twice.
                "coordinates": [[shared_corner, [113.68, 34.77], [113.68, 34.79], shared_corner]]}},
            {"type": "Feature", "properties": {}, "geometry": {
                "type": "GeometryCollection", "geometries": [
                    {"type": "Point", "coordinates": [113.67, 34.78, 101.5]},
                    {"type": "MultiLineString", "coordinates": [[[113.67, 34.78], [113.671, 34.781]]]},
                ]}},
            {"type": "Feature", "properties": {}, "geometry": None},
        ],
    }
    before = json.dumps(doc)
    out = datum.geojson_to_wgs84(doc, "gcj02")

    assert json.dumps(doc) == before  # the caller's object is untouched
    ring = out["features"][0]["geometry"]["coordinates"][0]
    want = datum.gcj02_to_wgs84(113.66, 34.77)
    assert ring[0] == pytest.approx(list(want), abs=1e-12)
    assert ring[-1] == pytest.approx(list(want), abs=1e-12)
    point = out["features"][1]["geometry"]["geometries"][0]["coordinates"]
    assert point[:2] == pytest.approx(list(datum.gcj02_to_wgs84(113.67, 34.78)), abs=1e-12)
    assert point[2] == 101.5  # altitude kept
    line = out["features"][1]["geometry"]["geometries"][1]["coordinates"][0]
    assert line[1] == pytest.approx(list(datum.gcj02_to_wgs84(113.671, 34.781)), abs=1e-12)
    assert "bbox" not in out  # it described the old datum
    assert out["features"][2]["geometry"] is None


def _demo_map() -> dict[str, Any]:
    with DEMO_GRIDS.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def test_a_gps_point_near_a_border_routes_to_the_right_grid_only_with_the_conversion() -> None:
    """The demo map (alerts/data/demo_grids.geojson) read as if exported from AMap, i.e. in GCJ-02.

    On that map, the border between grids 410105001001001 (west) and ...002 (east) runs along GCJ-02
    longitude 113.675. A patrol car stands 100 m east of it, in grid 002; its GPS reports WGS-84, which in
    Zhengzhou reads about 560 m west and 120 m north of the map's position for the same spot.
    """
    spot_gcj = (113.6761, 34.7960)  # where the car is, read off the AMap-drawn map: grid 002
    gps_lon, gps_lat = datum.gcj02_to_wgs84(*spot_gcj)  # what the car's GPS says
    assert _metres(gps_lon, gps_lat, *spot_gcj) > 400

    unconverted = GridIndex(load_geojson(_demo_map()))
    wrong = unconverted.locate(gps_lat, gps_lon)
    assert wrong is not None and wrong.code == "410105001001001"  # the neighbouring grid, 500 m off

    converted = GridIndex(load_geojson(datum.geojson_to_wgs84(_demo_map(), "gcj02")))
    right = converted.locate(gps_lat, gps_lon)
    assert right is not None and right.code == "410105001001002"


def test_a_baidu_drawn_map_routes_the_same_spot_correctly_too() -> None:
    spot_wgs = datum.gcj02_to_wgs84(113.6761, 34.7960)
    baidu_map = _demo_map()  # the same drawn borders as the AMap map, re-expressed as Baidu stores them
    for feature in baidu_map["features"]:
        for ring in feature["geometry"]["coordinates"]:
            for pos in ring:
                pos[0], pos[1] = datum.gcj02_to_bd09(pos[0], pos[1])
    # Imported with its datum, the Baidu map gives the same WGS-84 grids as the AMap one.
    index = GridIndex(load_geojson(datum.geojson_to_wgs84(baidu_map, "bd09")))
    found = index.locate(spot_wgs[1], spot_wgs[0])
    assert found is not None and found.code == "410105001001002"


def test_a_map_file_is_read_in_its_datum_and_broken_files_are_left_to_the_grid_validator(tmp_path: Path) -> None:
    amap = tmp_path / "amap_grids.geojson"
    amap.write_text(DEMO_GRIDS.read_text(encoding="utf-8"), encoding="utf-8")
    converted = datum.map_source_in_wgs84(amap, "gcj02")
    assert isinstance(converted, dict)
    first = converted["features"][0]["geometry"]["coordinates"][0][0]
    assert first == pytest.approx(list(datum.gcj02_to_wgs84(113.66, 34.77)), abs=1e-12)
    assert datum.map_source_in_wgs84(amap, "wgs84") == amap  # nothing to convert: untouched

    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    assert datum.map_source_in_wgs84(broken, "bd09") == broken
    with pytest.raises(GridError, match="not valid JSON"):
        load_geojson(datum.map_source_in_wgs84(broken, "bd09"))
    with pytest.raises(datum.DatumError):
        datum.map_source_in_wgs84(amap, "mars")
