"""``gridwatch dashboard``: the wall, the JSON API (with vehicle telemetry and camera management), the push
websocket and the telemetry websocket; ``gridwatch run`` starts the same dashboard in its process tree."""
from __future__ import annotations

import threading
from collections.abc import Callable

import redis
from flask import Blueprint

from alerts.repository import Repository
from centre.demo_setup import remove_demo_users
from centre.services import RedisHandle, check_production, open_redis, open_repository, start_grid_maps
from dashboard import cases_api, open311
from dashboard.evidence_api import evidence_blueprint
from dashboard.server import DashboardServer
from fleet.api import build_fleet, fleet_blueprint
from fleet.telemetry import TelemetryIngest
from fleet.telemetry_api import telemetry_blueprint
from fleet.telemetry_ws import TelemetryWsServer
from fleet.vehicles import FleetTelemetryStore
from geo.routing import GridRouter
from gridwatch.health import HeartbeatThread, http_ok
from gridwatch.lifecycle import Lifecycle
from gridwatch.metrics import RedisCollector, metrics_blueprint
from gridwatch.settings import Settings
from ingest.cameras_api import cameras_blueprint
from ingest.registry import CameraRegistry, redis_announcer


def dashboard_blueprints(
    settings: Settings, client: redis.Redis, repo: Repository, router: GridRouter
) -> tuple[tuple[Blueprint, ...], TelemetryIngest]:
    """Every route the dashboard serves beside the wall and its API (the front door's table covers each), and the
    GPS intake they share with the telemetry websocket."""
    # Every stored GPS batch also feeds the vehicles' link state, today's track and coverage.
    fleet, fleet_cases = build_fleet(settings, client, repo, router)
    telemetry = TelemetryIngest(FleetTelemetryStore(client, settings.ingest.telemetry_track_seconds, fleet),
                                settings.ingest)
    registry = CameraRegistry.for_settings(settings, redis_announcer(client))
    blueprints = (
        telemetry_blueprint(telemetry),
        cameras_blueprint(registry),
        metrics_blueprint(RedisCollector(client)),
        evidence_blueprint(),
        fleet_blueprint(settings, fleet, fleet_cases),
        cases_api.cases_blueprint(repo.engine, router, settings),
        open311.open311_blueprint(repo.engine, router, settings),
    )
    return blueprints, telemetry


def start_dashboard(settings: Settings, handle: RedisHandle, repo: Repository, life: Lifecycle) -> DashboardServer:
    """The wall, the JSON API (with vehicle telemetry and camera management) and the push websocket."""
    grid_maps = start_grid_maps(repo, life)
    router = grid_maps.router(settings.cases.fallback_grid)
    blueprints, telemetry = dashboard_blueprints(settings, handle.client, repo, router)
    server = DashboardServer(settings, repo, handle.client, handle.url, blueprints=blueprints, grid_maps=grid_maps)
    server.start()
    life.started(f"dashboard {server.url}", server.stop)
    beat = HeartbeatThread(
        handle.client, "dashboard", settings.worker.effective_id, probe=lambda: http_ok(f"{server.url}healthz")
    ).start()
    life.started("dashboard heartbeat", beat.stop)
    ws = TelemetryWsServer(telemetry, settings.dashboard.host, settings.ingest.telemetry_ws_port,
                           auth=settings.auth).start()
    life.started(f"telemetry websocket on port {ws.port}", ws.stop)
    return server


def run_dashboard(settings: Settings, stop: threading.Event, on_ready: Callable[[str], object] | None = None) -> None:
    """Production dashboard: the wall, the JSON API and the push websocket."""
    check_production(settings, "dashboard", shared_with="workers")
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        remove_demo_users(repo)
        server = start_dashboard(settings, handle, repo, life)
        if on_ready is not None:
            on_ready(server.url)
        stop.wait()
