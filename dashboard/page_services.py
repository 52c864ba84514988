"""The dashboard's one services bundle: what its pages and its API act through (cases, figures, the fleet, the
GPS intake, the camera registry, the metrics), kept on the Flask app.

The composition root (``centre.dashboard``) builds it once per process with ``build`` and hands it to
``DashboardServer`` / ``create_app``, which attach it to the app; the telemetry websocket shares its GPS intake.
An app made without one (tests, tools) builds its own on first use from the app's repository, so two apps in one
process never share a bundle and each app holds exactly one. The routers follow the stored grid map through the
bundle's ``GridMapWatcher`` (started by the root); ``reload_grids`` takes a map an admin just imported at once.

The module keeps its first name (the pages were its first users) so the pages' imports stay as they are.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import flask
import redis
from prometheus_client import CollectorRegistry

from alerts.assessment import Assessor
from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.figures import FigureBook
from alerts.repository import Repository
from dashboard.context import of as context_of
from dashboard.wall_queries import AlertRepository
from fleet.telemetry import TelemetryIngest
from fleet.vehicles import Fleet, FleetTelemetryStore
from geo.gridmap import GridMapWatcher
from geo.routing import GridRouter
from gridwatch.metrics import RedisCollector, registry_of
from gridwatch.settings import Settings
from ingest.registry import CameraRegistry, redis_announcer

EXTENSION = "gridwatch_pages"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class PageServices:
    repo: Repository  # its engine is the one every service here reads (``repo.engine``)
    grid_maps: GridMapWatcher  # keeps ``router`` (and every router it made) on the stored map
    router: GridRouter
    book: CaseBook
    casework: Casework
    cases: CaseService
    figures: FigureBook
    assessor: Assessor
    fleet: Fleet
    telemetry: TelemetryIngest  # shared by the HTTP route and the GPS websocket
    cameras: CameraRegistry
    metrics: CollectorRegistry


def build(
    settings: Settings, repo: AlertRepository, client: redis.Redis, grid_maps: GridMapWatcher | None = None
) -> PageServices:
    """Every service once, over ``repo``; ``grid_maps`` is the process's started watcher (else one that follows
    the map only when ``reload_grids`` asks it to)."""
    if not isinstance(repo, Repository):
        raise TypeError("the dashboard's services need alerts.repository.Repository as its repository")
    maps = grid_maps if grid_maps is not None else GridMapWatcher(repo)
    router = maps.router(settings.cases.fallback_grid)
    engine = repo.engine
    # Every stored GPS batch also feeds the vehicles' link state, today's track and coverage.
    fleet = Fleet.for_settings(settings, client, grids=router)
    figures = FigureBook(engine, router)
    return PageServices(
        repo=repo, grid_maps=maps, router=router, book=CaseBook(engine, router),
        casework=Casework(engine, router, settings=settings.cases),
        cases=CaseService(engine, router, settings.cases),
        figures=figures,
        assessor=Assessor(engine, router, settings.assessment, tz=settings.cases.timezone, figures=figures),
        fleet=fleet,
        telemetry=TelemetryIngest(FleetTelemetryStore(client, settings.ingest.telemetry_track_seconds, fleet),
                                  settings.ingest),
        cameras=CameraRegistry.for_settings(settings, redis_announcer(client)),
        metrics=registry_of(RedisCollector(client)),
    )


def attach(server: flask.Flask, services: PageServices) -> None:
    server.extensions[EXTENSION] = services


def of(server: flask.Flask) -> PageServices:
    """The app's bundle: the one it was given, else one built now (once) from its context."""
    found = server.extensions.get(EXTENSION)
    if isinstance(found, PageServices):
        return found
    with _LOCK:
        found = server.extensions.get(EXTENSION)
        if not isinstance(found, PageServices):
            ctx = context_of(server)
            found = server.extensions[EXTENSION] = build(ctx.settings, ctx.repo, ctx.redis)
        return found


def current() -> PageServices:
    """The services of the app handling the current request (layouts, callbacks, routes)."""
    return of(flask.current_app)


def reload_grids(server: flask.Flask) -> PageServices:
    """After an import on this server: the new map at once (the watcher would take it within seconds)."""
    services = of(server)
    services.grid_maps.check()  # every router of this process, the bundle's included, now answers from the new map
    return services
