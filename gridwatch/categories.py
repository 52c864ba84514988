"""Issue categories in the style of China's digital urban-management event classification.

Major class 05 = street order (街面秩序). One table, used by vision rules, alerts and the wall.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_zh: str
    name_en: str


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("0501", "无照经营游商", "unlicensed mobile vendor"),
        Category("0502", "流浪乞讨", "vagrancy and begging"),
        Category("0503", "占道经营", "occupying the road for business"),
        Category("0504", "店外经营", "business outside the shop"),
        Category("0507", "乱堆物料", "materials piled on the street"),
        Category("0599", "其他", "other street-order problem"),
    )
}


def category(code: str) -> Category:
    try:
        return CATEGORIES[code]
    except KeyError:
        raise KeyError(f"unknown issue category code {code!r}; known: {', '.join(CATEGORIES)}") from None
