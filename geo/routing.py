"""Which grid is responsible for a point: the level-3 grid holding it, its community and office, or a fallback.

Points outside every grid go to the configured fallback grid of the territory (属地兜底), so no case is left
without someone responsible; without a fallback they stay unrouted and the wall lists them as such.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from geo.grids import GridFeature, GridIndex, GridRef

log = logging.getLogger(__name__)


class UnknownGridCodeError(ValueError):
    """A grid code (fallback, dispatch or escalation target, figures subtree) that the grid map does not have."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a case belongs: its grid and that grid's community and office (None where the level is absent)."""

    grid_code: str | None
    community_code: str | None
    office_code: str | None
    fallback: bool

    @property
    def responsible(self) -> str | None:
        """The most specific grid: who gets the case first."""
        return self.grid_code or self.community_code or self.office_code


UNROUTED = Route(None, None, None, fallback=False)


@dataclass(frozen=True, slots=True, eq=False)
class _Map:
    """One grid map as the router answers from it; replaced whole, never changed, so a reader sees one map."""

    features: dict[str, GridFeature]
    index: GridIndex
    fallback_grid: str | None
    routes: dict[str, Route]  # a cache of route_for by leaf code, filled as points come


class GridRouter:
    """Point -> Route over a grid map, and the tree questions the workflow asks (parent, level, subtree).

    ``replace(features)`` swaps in a new map at run time (an admin imported one): every holder of the router
    (case service, casework, figures, the alert sink) answers from the new map at once, and each call reads
    one map from start to end.
    """

    def __init__(self, features: Sequence[GridFeature], fallback_grid: str | None = None) -> None:
        self._map = self._build(features, fallback_grid)

    @staticmethod
    def _build(features: Sequence[GridFeature], fallback_grid: str | None) -> _Map:
        by_code = {f.code: f for f in features}
        if fallback_grid is not None and fallback_grid not in by_code:
            raise UnknownGridCodeError(f"fallback grid {fallback_grid!r} is not in the grid map")
        return _Map(by_code, GridIndex(features), fallback_grid, {})

    def replace(self, features: Sequence[GridFeature]) -> None:
        """Answer from ``features`` from now on; UnknownGridCodeError (and the old map kept) when the new map
        lacks the fallback grid."""
        self._map = self._build(features, self._map.fallback_grid)

    @property
    def fallback_grid(self) -> str | None:
        return self._map.fallback_grid

    @property
    def index(self) -> GridIndex:
        return self._map.index

    def locate(self, lat: float, lon: float) -> GridRef | None:
        """The leaf grid holding the point (the current map's ``GridIndex.locate``)."""
        return self._map.index.locate(lat, lon)

    def __contains__(self, code: object) -> bool:
        return code in self._map.features

    def name_of(self, code: str) -> str | None:
        """The grid's name in the current map (a renamed grid shows its new name at once)."""
        found = self._map.features.get(code)
        return found.name if found is not None else None

    def feature(self, code: str) -> GridFeature:
        return self._feature(self._map, code)

    @staticmethod
    def _feature(m: _Map, code: str) -> GridFeature:
        try:
            return m.features[code]
        except KeyError:
            raise UnknownGridCodeError(f"grid {code!r} is not in the grid map") from None

    def codes(self, level: int | None = None) -> list[str]:
        """Every grid code (of ``level`` when given), sorted."""
        return sorted(c for c, f in self._map.features.items() if level is None or f.level == level)

    def level(self, code: str) -> int:
        return self.feature(code).level

    def parent(self, code: str) -> str | None:
        return self.feature(code).parent

    def ancestors(self, code: str) -> tuple[str, ...]:
        """``code``'s parents, nearest first."""
        return self._ancestors(self._map, code)

    @classmethod
    def _ancestors(cls, m: _Map, code: str) -> tuple[str, ...]:
        chain: list[str] = []
        parent = cls._feature(m, code).parent
        while parent is not None and parent in m.features and parent not in chain:
            chain.append(parent)
            parent = m.features[parent].parent
        return tuple(chain)

    def is_within(self, code: str, ancestor: str) -> bool:
        """True when ``code`` is ``ancestor`` or lies below it."""
        return code == ancestor or ancestor in self.ancestors(code)

    def route_for(self, code: str, fallback: bool = False) -> Route:
        """The Route of a known grid code (a case filed on a grid directly, or the fallback)."""
        return self._route_for(self._map, code, fallback)

    @classmethod
    def _route_for(cls, m: _Map, code: str, fallback: bool = False) -> Route:
        by_level: dict[int, str] = {cls._feature(m, code).level: code}
        for parent in cls._ancestors(m, code):
            by_level[m.features[parent].level] = parent
        return Route(by_level.get(3), by_level.get(2), by_level.get(1), fallback=fallback)

    def route(self, lat: float | None, lon: float | None) -> Route:
        """The Route of a WGS-84 point; the fallback (or UNROUTED) when it lies in no grid or is unknown."""
        m = self._map
        ref = m.index.locate(lat, lon) if lat is not None and lon is not None else None
        if ref is None:
            return self._route_for(m, m.fallback_grid, fallback=True) if m.fallback_grid else UNROUTED
        route = m.routes.get(ref.code)
        if route is None:
            route = m.routes[ref.code] = self._route_for(m, ref.code)
        return route
