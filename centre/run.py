"""``gridwatch run``: the whole command centre in one process tree (the demo: embedded defaults, a demo patrol car),
built from the same process roles as ``gridwatch worker``, ``gridwatch alerts`` and ``gridwatch dashboard``."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from centre.cases import start_cases
from centre.dashboard import start_dashboard
from centre.demo_setup import demo_users, start_demo_camera, start_demo_telemetry, with_demo_device_token
from centre.services import open_redis, open_repository
from centre.worker import load_detector, start_worker
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings
from vision.model_registry import with_registered

log = logging.getLogger(__name__)


def run_all(settings: Settings, stop: threading.Event, on_ready: Callable[[str], object] | None = None) -> None:
    """The whole command centre in one process tree, until ``stop`` is set."""
    settings = with_registered(settings)  # a city's own model, registered by `gridwatch dataset train`
    detector = load_detector(settings)
    settings = with_demo_device_token(settings)
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        if settings.demo.enabled:
            settings = start_demo_camera(settings, life)
        dashboard = start_dashboard(settings, handle, repo, life)
        # After the dashboard's first start made ``admin`` (only into an empty user table), never before it.
        demo_users(settings, repo, life)
        if settings.demo.enabled:
            start_demo_telemetry(settings, dashboard.url, life)
        start_cases(settings, handle.client, repo, life)
        start_worker(settings, handle.client, repo, life, detector)
        log.info("GridWatch wall: %s", dashboard.url)
        if on_ready is not None:
            on_ready(dashboard.url)
        stop.wait()
        log.info("shutting down")
