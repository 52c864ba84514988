"""``gridwatch dashboard``: the wall, the JSON API (with vehicle telemetry and camera management), the push
websocket and the telemetry websocket; ``gridwatch run`` starts the same dashboard in its process tree."""
from __future__ import annotations

import threading
from collections.abc import Callable

from alerts.repository import Repository
from centre.demo_setup import remove_demo_users
from centre.services import RedisHandle, check_production, open_redis, open_repository, start_grid_maps
from dashboard import page_services
from dashboard.server import DashboardServer
from dashboard.telemetry_ws import TelemetryWsServer
from gridwatch.health import HeartbeatThread, http_ok
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings


def start_dashboard(settings: Settings, handle: RedisHandle, repo: Repository, life: Lifecycle) -> DashboardServer:
    """The wall, the JSON API (with vehicle telemetry and camera management) and the push websocket."""
    # The process's one services bundle: the app's routes and pages and the GPS websocket all act through it.
    services = page_services.build(settings, repo, handle.client, start_grid_maps(repo, life))
    server = DashboardServer(settings, repo, handle.client, handle.url, services=services)
    server.start()
    life.started(f"dashboard {server.url}", server.stop)
    beat = HeartbeatThread(
        handle.client, "dashboard", settings.worker.effective_id, probe=lambda: http_ok(f"{server.url}healthz")
    ).start()
    life.started("dashboard heartbeat", beat.stop)
    ws = TelemetryWsServer(services.telemetry, settings.dashboard.host, settings.ingest.telemetry_ws_port,
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
