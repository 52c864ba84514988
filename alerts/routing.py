"""Which grid is responsible for a point: the level-3 grid holding it, its community and office, or a fallback.

Points outside every grid go to the configured fallback grid of the territory (属地兜底), so no case is left
without someone responsible; without a fallback they stay unrouted and the wall lists them as such.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.grids import GridFeature, GridIndex

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


class GridRouter:
    """Point -> Route over a grid map, and the tree questions the workflow asks (parent, level, subtree)."""

    def __init__(self, features: Sequence[GridFeature], fallback_grid: str | None = None) -> None:
        self._features = {f.code: f for f in features}
        self._index = GridIndex(features)
        if fallback_grid is not None and fallback_grid not in self._features:
            raise UnknownGridCodeError(f"fallback grid {fallback_grid!r} is not in the grid map")
        self.fallback_grid = fallback_grid
        self._routes: dict[str, Route] = {}
        self._fallback_route = self.route_for(fallback_grid, fallback=True) if fallback_grid else UNROUTED

    @property
    def index(self) -> GridIndex:
        return self._index

    def __contains__(self, code: object) -> bool:
        return code in self._features

    def feature(self, code: str) -> GridFeature:
        try:
            return self._features[code]
        except KeyError:
            raise UnknownGridCodeError(f"grid {code!r} is not in the grid map") from None

    def codes(self, level: int | None = None) -> list[str]:
        """Every grid code (of ``level`` when given), sorted."""
        return sorted(c for c, f in self._features.items() if level is None or f.level == level)

    def level(self, code: str) -> int:
        return self.feature(code).level

    def parent(self, code: str) -> str | None:
        return self.feature(code).parent

    def ancestors(self, code: str) -> tuple[str, ...]:
        """``code``'s parents, nearest first."""
        chain: list[str] = []
        parent = self.feature(code).parent
        while parent is not None and parent in self._features and parent not in chain:
            chain.append(parent)
            parent = self._features[parent].parent
        return tuple(chain)

    def is_within(self, code: str, ancestor: str) -> bool:
        """True when ``code`` is ``ancestor`` or lies below it."""
        return code == ancestor or ancestor in self.ancestors(code)

    def route_for(self, code: str, fallback: bool = False) -> Route:
        """The Route of a known grid code (a case filed on a grid directly, or the fallback)."""
        by_level: dict[int, str] = {self.level(code): code}
        for parent in self.ancestors(code):
            by_level[self.level(parent)] = parent
        return Route(by_level.get(3), by_level.get(2), by_level.get(1), fallback=fallback)

    def route(self, lat: float | None, lon: float | None) -> Route:
        """The Route of a WGS-84 point; the fallback (or UNROUTED) when it lies in no grid or is unknown."""
        ref = self._index.locate(lat, lon) if lat is not None and lon is not None else None
        if ref is None:
            return self._fallback_route
        route = self._routes.get(ref.code)
        if route is None:
            route = self._routes[ref.code] = self.route_for(ref.code)
        return route
