"""Grid codes in the national style: administrative division + street office + community + grid.

    410105 001 001 001
    |||||| ||| ||| +-- grid sequence in the community          (level 3: 15 digits)
    |||||| ||| +------ community (社区/村) in the street office   (level 2: 12 digits)
    |||||| +---------- street office or town (街道/乡镇)          (level 1:  9 digits)
    ++++++------------ county-level division code, GB/T 2260: province 41 (Henan), city 01 (Zhengzhou),
                       county 05 (Jinshui district)

The 6+3+3 prefix is the statistical division code of the street office and community (GB/T 10114 and the
National Bureau of Statistics' 统计用区划代码); the last three digits number the grids of a community.
A code's parent is the code without its last three digits.
"""
from __future__ import annotations

from dataclasses import dataclass

LEVEL_DIGITS = {1: 9, 2: 12, 3: 15}
LEVEL_NAMES = {1: "street office", 2: "community", 3: "grid"}

# GB/T 2260 province-level codes (first two digits).
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

# City (prefecture) part: 01-70 are prefecture-level cities, leagues and the municipalities' district/county
# groups; 90 groups the county-level cities governed directly by the province (e.g. 419001 Jiyuan).
_CITY_PARTS = {f"{n:02d}" for n in range(1, 71)} | {"90"}


class GridCodeError(ValueError):
    """A grid code that does not follow the national structure or disagrees with its level or parent."""


@dataclass(frozen=True, slots=True)
class GridCode:
    code: str
    level: int
    division: str  # 6-digit county-level administrative division, e.g. "410105"
    street: str  # 3 digits
    community: str | None  # 3 digits from level 2
    grid: str | None  # 3 digits at level 3

    @property
    def province(self) -> str:
        return self.division[:2]

    @property
    def parent(self) -> str | None:
        """The code one level up; None for a street office (its parent is the district, not a grid-map code)."""
        return self.code[:-3] if self.level > 1 else None


def division_problems(division: str) -> list[str]:
    """What is wrong with a 6-digit county-level division code (empty list: nothing)."""
    if len(division) != 6 or not division.isascii() or not division.isdigit():
        return [f"administrative division {division!r} must be 6 digits"]
    province, city, county = division[:2], division[2:4], division[4:]
    problems: list[str] = []
    if province not in PROVINCES:
        problems.append(f"administrative division {division}: {province} is not a province code of GB/T 2260")
    if city == "00" or county == "00":
        problems.append(
            f"administrative division {division} names a province or city, not a county-level district; "
            "grids belong to a district or county (e.g. 410105 Jinshui district)"
        )
    elif city not in _CITY_PARTS:
        problems.append(f"administrative division {division}: city part {city} is not 01-70 or 90")
    return problems


_LEVEL_OF_LENGTH = {n: lvl for lvl, n in LEVEL_DIGITS.items()}


def structure_problems(code: object) -> list[str]:
    """What is wrong with ``code`` as a 9-, 12- or 15-digit grid-map code, whatever its level and parent."""
    if not isinstance(code, str):
        return [f"code must be a string of digits, got {code!r}"]
    if not code.isascii() or not code.isdigit():
        return [f"code {code!r} must contain digits only"]
    if len(code) not in _LEVEL_OF_LENGTH:
        return [f"code {code} has {len(code)} digits; grid-map codes have 9, 12 or 15"]
    problems = division_problems(code[:6])
    for k, name in enumerate(("street office", "community", "grid")[:_LEVEL_OF_LENGTH[len(code)]]):
        if code[6 + 3 * k: 9 + 3 * k] == "000":
            problems.append(f"code {code}: the {name} part is 000; numbering starts at 001")
    return problems


def code_problems(code: object, level: int, parent: object = None) -> list[str]:
    """Every problem of ``code`` as the code of a level-``level`` feature whose parent is ``parent``
    (empty list: valid). A level-1 street office has no parent in a grid map; levels 2 and 3 need the
    code without its last three digits."""
    if level not in LEVEL_DIGITS:
        return [f"level must be 1, 2 or 3, got {level!r}"]
    if not isinstance(code, str) or not code.isascii() or not code.isdigit():
        return structure_problems(code)
    if len(code) != LEVEL_DIGITS[level]:
        return [
            f"code {code} has {len(code)} digits; a level-{level} {LEVEL_NAMES[level]} code has "
            f"{LEVEL_DIGITS[level]} (6-digit district + 3 digits per level)"
        ] + (division_problems(code[:6]) if len(code) >= 6 else [])
    problems = structure_problems(code)
    if level == 1:
        if parent is not None:
            problems.append(f"code {code}: a level-1 street office has no parent in the grid map, got {parent!r}")
    elif parent is None:
        problems.append(f"code {code}: a level-{level} {LEVEL_NAMES[level]} needs its parent {code[:-3]}")
    elif parent != code[:-3]:
        problems.append(
            f"code {code}: its parent must be {code[:-3]} (the code without its last three digits), got {parent!r}"
        )
    return problems


def validate_code(code: str, level: int, parent: str | None = None) -> GridCode:
    """The parsed code, or GridCodeError naming every problem (structure, length for the level, parent)."""
    problems = code_problems(code, level, parent)
    if problems:
        raise GridCodeError("; ".join(problems))
    return parse(code)


def parse(code: str) -> GridCode:
    """Split a well-formed code into its parts (GridCodeError naming what is wrong otherwise)."""
    problems = structure_problems(code)
    if problems:
        raise GridCodeError("; ".join(problems))
    level = _LEVEL_OF_LENGTH[len(code)]
    return GridCode(
        code=code,
        level=level,
        division=code[:6],
        street=code[6:9],
        community=code[9:12] if level >= 2 else None,
        grid=code[12:15] if level == 3 else None,
    )
