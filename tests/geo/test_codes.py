"""National-style grid codes: 6-digit district + street office + community + grid, checked on import."""
from __future__ import annotations

import json

import pytest

from geo import codes
from gridwatch.settings import DEMO_GRIDS


def test_a_jinshui_grid_code_parses_into_its_parts() -> None:
    code = codes.validate_code("410105001001001", 3, "410105001001")
    assert (code.division, code.street, code.community, code.grid) == ("410105", "001", "001", "001")
    assert code.province == "41" and codes.PROVINCES[code.province] == "河南省"
    assert code.parent == "410105001001"
    assert codes.validate_code("410105001", 1).parent is None
    assert codes.validate_code("410105001002", 2, "410105001").level == 2


@pytest.mark.parametrize(
    ("code", "level", "parent", "message"),
    [
        ("41010500100100", 3, "410105001001", "has 14 digits; a level-3 grid code has 15"),
        ("410105001001001", 2, "410105001", "has 15 digits; a level-2 community code has 12"),
        ("41010500100100A", 3, "410105001001", "must contain digits only"),
        ("990105001001001", 3, "990105001001", "99 is not a province code"),
        ("410100001001001", 3, "410100001001", "names a province or city, not a county-level district"),
        ("410185001001001", 3, "410185001001", None),  # 410185 Dengfeng, a county-level city: valid
        ("419001001001001", 3, "419001001001", None),  # 419001 Jiyuan, governed by the province: valid
        ("417105001001001", 3, "417105001001", "city part 71 is not 01-70 or 90"),
        ("410105000001001", 3, "410105000001", "the street office part is 000"),
        ("410105001001000", 3, "410105001001", "the grid part is 000"),
        ("410105001001001", 3, "410105001002", "its parent must be 410105001001"),
        ("410105001001001", 3, None, "needs its parent 410105001001"),
        ("410105001", 1, "410105", "a level-1 street office has no parent"),
        ("410105001", 4, None, "level must be 1, 2 or 3"),
    ],
)
def test_each_structural_problem_is_named(code: str, level: int, parent: str | None, message: str | None) -> None:
    if message is None:
        assert codes.validate_code(code, level, parent).code == code
        return
    with pytest.raises(codes.GridCodeError, match=message):
        codes.validate_code(code, level, parent)


def test_problems_are_listed_together_for_an_import_report() -> None:
    problems = codes.code_problems("990100000", 1, "41")
    assert len(problems) == 4  # province, city-not-county, street 000, parent
    assert all("990100" in p or "990100000" in p for p in problems)


def test_every_code_of_the_demo_map_follows_the_national_structure() -> None:
    doc = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        p = feature["properties"]
        assert codes.code_problems(p["code"], p["level"], p["parent"]) == [], p["code"]
