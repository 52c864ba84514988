"""The grid map: the demo map tiles its box exactly, points land in the right grid, bad files are refused whole."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape

from geo.grids import GridError, GridFeature, GridIndex, GridRef, load_geojson
from gridwatch.settings import DEMO_GRIDS

DEMO_BOX = box(113.660, 34.770, 113.720, 34.800)  # lon/lat of the area the demo patrol car drives


def test_demo_map_has_three_levels_that_tile_the_demo_area_exactly(demo_features: list[GridFeature]) -> None:
    assert len(demo_features) == 22
    by_level = {lv: [f for f in demo_features if f.level == lv] for lv in (1, 2, 3)}
    assert [len(by_level[lv]) for lv in (1, 2, 3)] == [2, 4, 16]
    for level, features in by_level.items():
        shapes = [shape(f.geometry) for f in features]
        # Each level covers the box with no gap and no overlap: areas add up and the union is the box.
        assert sum(s.area for s in shapes) == pytest.approx(DEMO_BOX.area, rel=1e-9), level
        assert shapely.union_all(shapes).symmetric_difference(DEMO_BOX).area < 1e-12, level
    for f in demo_features:
        assert f.code.startswith("410105") and len(f.code) == 6 + 3 * f.level
        assert f.parent == (None if f.level == 1 else f.code[:-3])
        assert f.leader
    children = {f.code: [c for c in demo_features if c.parent == f.code] for f in by_level[2]}
    for community in by_level[2]:
        kids = children[community.code]
        assert [k.name for k in kids] == [f"{community.name}第{n}网格" for n in (1, 2, 3, 4)]
        union = shapely.union_all([shape(k.geometry) for k in kids])
        assert union.symmetric_difference(shape(community.geometry)).area < 1e-12


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (34.7990, 113.6610, "410105001001001"),  # far north-west corner
        (34.7710, 113.7190, "410105002002004"),  # far south-east corner
        (34.7800, 113.6800, "410105001002002"),  # west office, southern community, north-east block
        (34.7950, 113.7000, "410105002001001"),  # east office, northern community, north-west block
    ],
)
def test_locate_names_the_grid_and_its_community_and_office(
    demo_features: list[GridFeature], lat: float, lon: float, code: str
) -> None:
    ref = GridIndex(demo_features).locate(lat, lon)
    assert ref is not None and ref.code == code
    assert ref.level == 3
    assert ref.parents == (code[:12], code[:9])
    assert ref.name == next(f.name for f in demo_features if f.code == code)


def test_locate_outside_the_map_is_none_and_a_shared_edge_gives_one_answer(demo_features: list[GridFeature]) -> None:
    index = GridIndex(demo_features)
    assert len(index) == 16
    assert index.locate(34.7850, 113.6500) is None  # west of the box
    assert index.locate(34.8100, 113.6900) is None  # north of the box
    assert index.locate(float("nan"), 113.69) is None
    # The corner where four grids of two offices meet belongs to exactly one of them, every time.
    corner = {index.locate(34.785, 113.69) for _ in range(3)}
    assert len(corner) == 1 and isinstance(next(iter(corner)), GridRef)


def _demo() -> dict[str, Any]:
    return json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))


def _open_ring(doc: dict[str, Any]) -> None:
    doc["features"][5]["geometry"]["coordinates"][0].pop()


def _duplicate_code(doc: dict[str, Any]) -> None:
    doc["features"][5]["properties"]["code"] = doc["features"][4]["properties"]["code"]


def _unknown_parent(doc: dict[str, Any]) -> None:
    # A well-formed national code whose community is not in the file.
    doc["features"][5]["properties"]["code"] = "410105009009001"
    doc["features"][5]["properties"]["parent"] = "410105009009"


def _code_not_under_parent(doc: dict[str, Any]) -> None:
    doc["features"][5]["properties"]["parent"] = "410105002001"


def _bad_level(doc: dict[str, Any]) -> None:
    doc["features"][5]["properties"]["level"] = 4


def _parent_two_levels_up(doc: dict[str, Any]) -> None:
    doc["features"][5]["properties"]["parent"] = "410105001"


def _self_intersecting(doc: dict[str, Any]) -> None:
    ring = doc["features"][5]["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow tie


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_open_ring, "is not closed"),
        (_duplicate_code, "duplicate code, already used by feature #4"),
        (_unknown_parent, "parent '410105009009' is not in the map"),
        (_code_not_under_parent, "its parent must be"),
        (_bad_level, "'level' must be 1, 2 or 3, got 4"),
        (_parent_two_levels_up, "its parent must be 410105001001"),
        (_self_intersecting, "not a valid polygon"),
    ],
)
def test_invalid_map_is_refused_naming_the_feature_and_the_problem(spoil: Any, problem: str) -> None:
    doc = _demo()
    spoil(doc)
    code = doc["features"][5]["properties"]["code"]
    with pytest.raises(GridError) as err:
        load_geojson(doc)
    assert f"feature #5 (code '{code}')" in str(err.value)
    assert problem in str(err.value)
    assert len(err.value.problems) == 1, err.value.problems  # one spoilt feature, one complaint


def test_a_file_that_is_not_a_feature_collection_is_refused(tmp_path: Path) -> None:
    geometry_only = tmp_path / "polygon.geojson"
    geometry_only.write_text(json.dumps(_demo()["features"][0]["geometry"]))
    with pytest.raises(GridError, match=r"(?s)polygon\.geojson.*must be a GeoJSON FeatureCollection, got 'Polygon'"):
        load_geojson(geometry_only)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(GridError, match=r"(?s)broken\.geojson.*not valid JSON"):
        load_geojson(broken)
    with pytest.raises(GridError, match="file not found"):
        load_geojson(tmp_path / "missing.geojson")


def test_every_problem_of_a_file_is_listed_and_the_input_is_not_changed() -> None:
    doc = _demo()
    _open_ring(doc)
    doc["features"][20]["properties"]["level"] = 0
    before = copy.deepcopy(doc)
    with pytest.raises(GridError) as err:
        load_geojson(doc)
    assert any(p.startswith("feature #5 ") for p in err.value.problems)
    assert any(p.startswith("feature #20 ") for p in err.value.problems)
    assert doc == before


def test_locate_agrees_with_shapely_covers_on_holes_multipolygons_and_big_polygons() -> None:
    from shapely.geometry import Point, mapping

    def feature(code: str, geom: Any) -> GridFeature:
        return GridFeature(code, code, 3, None, None, mapping(geom))

    small = [feature(f"s{i:02d}", box(i * 0.002, 0.0, i * 0.002 + 0.002, 0.002)) for i in range(10)]
    donut = Point(0.01, 0.01).buffer(0.004, 16).difference(Point(0.01, 0.01).buffer(0.002, 16))
    two = shapely.MultiPolygon([box(0.02, 0.0, 0.022, 0.002), box(0.024, 0.0, 0.026, 0.002)])
    round_ = Point(0.03, 0.01).buffer(0.003, 100)  # 400 vertices: checked by shapely, not in Python
    huge = box(-0.5, -0.5, 0.5, 0.5)  # spans far more buckets than a grid: checked for every point
    features = [*small, feature("donut", donut), feature("two", two), feature("round", round_),
                feature("zhuge", huge)]
    index = GridIndex(features)
    shapes = sorted((f.code, shape(f.geometry)) for f in features)
    rng = np.random.default_rng(3)
    points = [(float(y), float(x)) for x, y in rng.uniform(-0.01, 0.04, size=(3000, 2))]
    for _, s in shapes[:12]:
        for geom in getattr(s, "geoms", [s]):
            points += [(y, x) for x, y in geom.exterior.coords]  # vertices and edges: boundary counts as inside
    points += [(0.01, 0.01), (0.01, 0.012), (0.001, 0.002)]  # the donut's hole, its inner edge, a shared edge
    for lat, lon in points:
        want = next((code for code, s in shapes if s.covers(Point(lon, lat))), None)
        got = index.locate(lat, lon)
        assert (got.code if got else None) == want, (lat, lon)
    assert index.locate(0.01, 0.01).code == "zhuge"  # type: ignore[union-attr]  # in the hole: only the huge one
    assert index.locate(5.0, 5.0) is None
