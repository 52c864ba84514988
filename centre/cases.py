"""``gridwatch alerts``: the case consumer. Alerts from the stream (consumer group, acknowledged, reclaimed) become
deduplicated cases; with ``learning.nightly_at`` set it also learns from the day's verdicts at night."""
from __future__ import annotations

import threading

import redis

from alerts.cases import CaseService
from alerts.clearance import fixed_cameras
from alerts.consumer import StreamConsumer
from alerts.nightly_learning import start_nightly_learning
from alerts.repository import Repository
from centre.services import check_production, open_redis, open_repository, start_grid_maps
from gridwatch.health import HeartbeatThread
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings
from ingest.registry import CameraRegistry


def start_cases(settings: Settings, client: redis.Redis, repo: Repository, life: Lifecycle) -> StreamConsumer:
    """The case consumer: alerts from the stream (consumer group, acknowledged, reclaimed) become deduplicated cases."""
    router = start_grid_maps(repo, life).router(settings.cases.fallback_grid)
    registry = CameraRegistry.for_settings(settings)  # fixed cameras' alerts are matched by picture spot
    fixed = fixed_cameras(lambda: {c.id: c for c in registry.load()})
    consumer = StreamConsumer(repo.engine, client,
                              CaseService(repo.engine, router, settings.cases, fixed).ingest_alerts)
    consumer.start()
    life.started("case consumer", consumer.stop)
    # The heartbeat lapses while the consumer cannot read the stream or write cases (compose health check).
    beat = HeartbeatThread(client, "alerts", settings.worker.effective_id, probe=lambda: consumer.health().ok).start()
    life.started("alerts heartbeat", beat.stop)
    start_nightly_learning(settings, client, repo.engine, life)
    return consumer


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """Production alerts consumer: scale out by running more of them (one Redis consumer group)."""
    check_production(settings, "alerts", shared_with="workers")
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        start_cases(settings, handle.client, repo, life)
        stop.wait()
