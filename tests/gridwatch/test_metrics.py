"""Prometheus /metrics: counters a Prometheus server scrapes, read from real Redis state (the worker's own
endpoint is scraped in the two-worker test of test_leases.py)."""
from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

import redis

from centre.worker import publish_camera_state
from dashboard.api import metrics
from gridwatch import keys
from gridwatch.metrics import RedisCollector, serve_metrics
from gridwatch.settings import Settings
from gridwatch.types import CameraState, CameraStatus
from tests.api_testing import api_app


def _city(client: redis.Redis) -> None:
    now = datetime.now(UTC)
    publish_camera_state(client, CameraState("cam-1", "Street 1", CameraStatus.ONLINE, 9.5, 1200, 7, now))
    publish_camera_state(client, CameraState("cam-2", "Street 2", CameraStatus.OFFLINE, 0.0, 30, 0, None, "refused"))
    for i in range(3):
        client.xadd(keys.ALERTS_STREAM, {"n": str(i)})
    client.xgroup_create(keys.ALERTS_STREAM, "alerts-workers", id="0")
    client.xreadgroup("alerts-workers", "c1", {keys.ALERTS_STREAM: ">"}, count=1)


def test_metrics_endpoint_serves_camera_and_queue_figures(redis_client: redis.Redis) -> None:
    _city(redis_client)
    server = serve_metrics(RedisCollector(redis_client), "127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as resp:
            body = resp.read().decode()
    finally:
        server.stop()
    assert 'gridwatch_camera_frames_total{camera="cam-1"} 1200.0' in body
    assert 'gridwatch_camera_dropped_frames_total{camera="cam-1"} 7.0' in body
    assert 'gridwatch_camera_status{camera="cam-2",status="offline"} 1.0' in body
    assert 'gridwatch_camera_status{camera="cam-2",status="online"} 0.0' in body
    assert "gridwatch_alerts_stream_length 3.0" in body
    assert 'gridwatch_alerts_group_lag{group="alerts-workers"} 2.0' in body
    assert 'gridwatch_alerts_group_pending{group="alerts-workers"} 1.0' in body


def test_the_dashboards_metrics_route(settings: Settings, redis_client: redis.Redis) -> None:
    _city(redis_client)
    resp = api_app(settings, redis_client, metrics.blueprint).test_client().get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert 'gridwatch_camera_fps{camera="cam-1"} 9.5' in resp.get_data(as_text=True)
