"""The dashboard's one services bundle (dashboard.page_services): one per app, the composition root's when given,
and an admin's grid-map import taken by its routers at once (the hot swap the routes and pages rely on)."""
from __future__ import annotations

import redis
from flask import Flask

from alerts.repository import Repository
from dashboard import page_services
from dashboard.app import create_app
from geo.grids import load_geojson
from gridwatch.settings import DEMO_GRIDS, Settings


def _app(settings: Settings, repo: Repository, client: redis.Redis,
         services: page_services.PageServices | None = None) -> Flask:
    return create_app(settings, repo, client, "ws://127.0.0.1:1/ws", services=services).server


def test_each_app_holds_one_bundle_and_the_given_one_is_used(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    first, second = _app(settings, repo, redis_client), _app(settings, repo, redis_client)
    bundle = page_services.of(first)
    assert page_services.of(first) is bundle  # built once, on first use
    assert page_services.of(second) is not bundle  # two apps never share one
    given = page_services.build(settings, repo, redis_client)
    assert page_services.of(_app(settings, repo, redis_client, given)) is given
    # The bundle's parts are the ones the routes use: one router behind the case service, the book and the fleet.
    assert bundle.cases.router is bundle.router


def test_an_imported_grid_map_reaches_the_bundles_routers_at_once(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    app = _app(settings, repo, redis_client)
    bundle = page_services.of(app)
    features = load_geojson(DEMO_GRIDS)
    assert set(bundle.router.codes()) == {f.code for f in features}
    smaller = [f for f in features if f.level < 3]
    repo.replace_grids(smaller)
    assert page_services.reload_grids(app) is bundle  # the same bundle: its routers follow the new map
    assert set(bundle.router.codes()) == {f.code for f in smaller}
    assert set(bundle.cases.router.codes()) == {f.code for f in smaller}
