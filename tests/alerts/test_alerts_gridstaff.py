"""Grid staff from the map's "staff" property (SQLite and PostgreSQL), overlaps reported, progress while reading."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerts.gridstaff import GridStaffStore
from alerts.repository import Repository
from geo.grids import GridError, load_geojson, overlaps
from gridwatch.settings import DEMO_GRIDS

GRID = "410105001001001"
NEIGHBOUR = "410105001001002"


def _demo() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    return doc


def _feature(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(f for f in doc["features"] if f["properties"]["code"] == code)


def test_staff_come_from_the_map_as_a_list_or_a_text_and_are_stored_in_order(engine: Engine, repo: Repository) -> None:
    doc = _demo()
    _feature(doc, GRID)["properties"]["staff"] = ["王芳", "李娜", "王芳"]
    _feature(doc, NEIGHBOUR)["properties"]["staff"] = "赵六、钱七, 孙八"
    features = load_geojson(doc)
    by_code = {f.code: f for f in features}
    assert by_code[GRID].staff == ("王芳", "李娜") and by_code[GRID].leader == "张伟"
    assert by_code[NEIGHBOUR].staff == ("赵六", "钱七", "孙八")
    repo.replace_grids(features)
    store = GridStaffStore(engine)
    assert store.replace_all(features) == 5
    assert store.staff_of(GRID) == ("王芳", "李娜")
    assert store.set_staff(GRID, ["周九"]) == ("周九",)
    assert store.all() == {GRID: ("周九",), NEIGHBOUR: ("赵六", "钱七", "孙八")}
    with pytest.raises(GridError, match="not in the grid map"):
        store.set_staff("410105009009009", ["x"])
    # A grid that leaves the map takes its staff list with it.
    repo.replace_grids([f for f in features if f.code != NEIGHBOUR])
    assert NEIGHBOUR not in store.all()


def test_bad_staff_names_the_feature() -> None:
    doc = _demo()
    _feature(doc, GRID)["properties"]["staff"] = [1, 2]
    with pytest.raises(GridError, match=f"code '{GRID}'.*'staff'"):
        load_geojson(doc)


def test_overlapping_grids_of_one_level_are_reported_with_their_shared_area() -> None:
    features = load_geojson(_demo())
    assert overlaps(features) == []  # children inside parents and neighbours sharing a border are fine
    doc = _demo()
    moved = copy.deepcopy(_feature(doc, NEIGHBOUR)["geometry"])
    first = _feature(doc, GRID)["geometry"]["coordinates"][0]
    width = max(p[0] for p in first) - min(p[0] for p in first)
    for ring in moved["coordinates"]:
        for p in ring:
            p[0] -= width / 2  # half of the neighbour now lies on the grid
    _feature(doc, NEIGHBOUR)["geometry"] = moved
    [o] = overlaps(load_geojson(doc))
    assert (o.level, o.first, o.second) == (3, GRID, NEIGHBOUR)
    assert 100_000 < o.area_m2 < 10_000_000  # half of a demo grid, which is about 1.4 km by 0.8 km


def test_reading_a_map_reports_progress_to_the_end() -> None:
    seen: list[tuple[int, int]] = []
    features = load_geojson(_demo(), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(features)) and seen[-1] == (len(features), len(features))
