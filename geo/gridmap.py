"""Keeps a process's grid routers on the stored grid map while it runs.

An admin imports a new map (``gridwatch grids import`` or the admin page) while workers, case consumers and the
dashboard keep running. Each of them routes with a ``GridRouter`` built at start; without this, they would go on
routing to the old map (and a removed grid's code would no longer match a stored grid). ``GridMapWatcher`` polls
the map's version (one small row, raised in the import's own transaction) and, when it changed, reads the map
once and swaps it into every router it keeps (``GridRouter.replace``), so every holder answers from the new map.
"""
from __future__ import annotations

import logging
from typing import Protocol

from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch.loop import Periodic

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 5.0


class GridMapSource(Protocol):
    """What the watcher needs of ``alerts.repository.Repository``."""

    def grid_map_version(self) -> int: ...

    def list_grids(self, level: int | None = None) -> list[GridFeature]: ...


class GridMapWatcher(Periodic):
    """``watcher.router(fallback)`` gives routers on the stored map; ``start()`` keeps them on it."""

    def __init__(self, source: GridMapSource, every_seconds: float = DEFAULT_EVERY_S) -> None:
        super().__init__("grid-map", every_seconds)
        self._source = source
        self.version = source.grid_map_version()
        self._features = source.list_grids()  # read after the version: never older than it says
        self._routers: list[GridRouter] = []
        self._refused: int | None = None

    def router(self, fallback_grid: str | None = None) -> GridRouter:
        """A router on the current map, kept on it from now on."""
        made = GridRouter(self._features, fallback_grid)
        self._routers.append(made)
        return made

    def tick(self) -> None:
        self.check()

    def check(self) -> bool:
        """Reload when the stored map changed; True when it did."""
        version = self._source.grid_map_version()
        if version in (self.version, self._refused):
            return False
        features = self._source.list_grids()
        codes = {f.code for f in features}
        lost = sorted({r.fallback_grid for r in self._routers if r.fallback_grid and r.fallback_grid not in codes})
        if lost:
            # The territory's fallback grid is gone from the new map: every router stays on the old one, loudly.
            self._refused = version
            log.error("new grid map (version %d) not taken: it lacks the fallback grid %s; fix the map or "
                      "cases.fallback_grid", version, ", ".join(lost))
            return False
        for router in self._routers:
            router.replace(features)
        self.version, self._features = version, features
        log.info("grid map version %d loaded: %d grids", version, len(features))
        return True
