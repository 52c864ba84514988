"""A grid map imported while GridWatch runs is taken by every running router, without a restart."""
from __future__ import annotations

import dataclasses

import pytest

from alerts.repository import Repository
from geo.gridmap import GridMapWatcher
from geo.grids import GridFeature

A, B = "410105001001001", "410105001001002"  # two neighbouring level-3 grids of the demo map
FALLBACK = "410105001"
IN_A = (34.7990, 113.6610)


def _swapped(features: list[GridFeature]) -> list[GridFeature]:
    """The same map with the shapes of grids A and B exchanged: a point in A now lies in B."""
    shape = {f.code: f.geometry for f in features}
    swap = {A: shape[B], B: shape[A]}
    return [dataclasses.replace(f, geometry=swap.get(f.code, f.geometry)) for f in features]


def test_every_router_follows_a_newly_imported_map(repo: Repository, demo_features: list[GridFeature]) -> None:
    repo.replace_grids(demo_features)
    watcher = GridMapWatcher(repo)
    cases_router, sink_router = watcher.router(FALLBACK), watcher.router()
    assert cases_router.route(*IN_A).grid_code == A
    assert watcher.check() is False  # nothing new

    before = repo.grid_map_version()
    repo.replace_grids(_swapped(demo_features))  # e.g. `gridwatch grids import` in another process
    assert repo.grid_map_version() == before + 1

    assert watcher.check() is True
    assert cases_router.route(*IN_A).grid_code == B
    located = sink_router.locate(*IN_A)
    assert located is not None and located.code == B


def test_a_map_without_the_fallback_grid_is_not_taken(
    repo: Repository, demo_features: list[GridFeature], caplog: pytest.LogCaptureFixture
) -> None:
    repo.replace_grids(demo_features)
    watcher = GridMapWatcher(repo)
    router = watcher.router(FALLBACK)
    other_office = [f for f in demo_features if not f.code.startswith(FALLBACK)]
    assert other_office, "the demo map has a second street office"
    repo.replace_grids(other_office)

    assert watcher.check() is False
    # Routing goes on, on the old map, and the log says why the new one was refused (once, not every poll).
    assert router.route(*IN_A).grid_code == A
    assert sum("lacks the fallback grid 410105001" in r.getMessage() for r in caplog.records) == 1
    assert watcher.check() is False
    assert sum("lacks the fallback grid" in r.getMessage() for r in caplog.records) == 1
