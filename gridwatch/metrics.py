"""Prometheus metrics for operations: each process serves its own ``/metrics``.

Values are read at scrape time from the parts' own counters (readers, the vision worker, the alert relay,
Redis), so the hot loops carry no metric calls. ``WorkerCollector`` is what ``gridwatch worker`` serves on
``worker.metrics_port``; ``RedisCollector`` (queue depths and every camera's published state) suits the
dashboard, which serves it at ``/metrics`` (``dashboard.api.metrics``).
"""
from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gridwatch import keys
from gridwatch.events import camera_state_from_hash
from gridwatch.types import CameraState, CameraStatus

log = logging.getLogger(__name__)


def _camera_metrics(states: Iterable[CameraState]) -> Iterator[Metric]:
    frames = CounterMetricFamily("gridwatch_camera_frames", "Frames read from the camera", labels=["camera"])
    dropped = CounterMetricFamily(
        "gridwatch_camera_dropped_frames", "Frames the reader dropped (vision behind or stream gaps)", labels=["camera"]
    )
    fps = GaugeMetricFamily("gridwatch_camera_fps", "Frames per second read now", labels=["camera"])
    status = GaugeMetricFamily(
        "gridwatch_camera_status", "1 for the camera's current status", labels=["camera", "status"]
    )
    for st in states:
        frames.add_metric([st.camera_id], st.frames)
        dropped.add_metric([st.camera_id], st.dropped)
        fps.add_metric([st.camera_id], st.fps)
        for s in CameraStatus:
            status.add_metric([st.camera_id, s.value], 1.0 if st.status == s else 0.0)
    yield from (frames, dropped, fps, status)


def _queue_metrics(client: redis.Redis) -> Iterator[Metric]:
    """The alerts stream's length and, per consumer group, entries not yet delivered (lag) or not yet acked."""
    length = GaugeMetricFamily("gridwatch_alerts_stream_length", "Entries in the alerts Redis stream")
    lag = GaugeMetricFamily("gridwatch_alerts_group_lag", "Stream entries not yet read by the group", labels=["group"])
    pending = GaugeMetricFamily(
        "gridwatch_alerts_group_pending", "Entries read, not yet acknowledged", labels=["group"]
    )
    try:
        length.add_metric([], client.xlen(keys.ALERTS_STREAM))
        exists = client.exists(keys.ALERTS_STREAM)
        groups: list[dict[str, Any]] = client.xinfo_groups(keys.ALERTS_STREAM) if exists else []
    except redis.RedisError as exc:
        log.warning("metrics: alerts stream not measured: %s", exc)
        return
    for g in groups:
        name = g["name"].decode() if isinstance(g["name"], bytes) else str(g["name"])
        if g.get("lag") is not None:
            lag.add_metric([name], float(g["lag"]))
        pending.add_metric([name], float(g.get("pending") or 0))
    yield from (length, lag, pending)


class WorkerCollector(Collector):
    """One ``gridwatch worker``: its cameras, its vision loop, its alert relay, its leases and the queues."""

    def __init__(self, worker_id: str, manager: Any, worker: Any, client: redis.Redis, *, sink: Any = None,
                 keeper: Any = None) -> None:
        self.worker_id = worker_id
        self.manager = manager  # ingest.manager.CameraManager: .states()
        self.worker = worker  # vision.worker.VisionWorker: counters, times, latencies
        self.client = client
        self.sink = sink  # alerts.sink.AlertSink: .health().backlog
        self.keeper = keeper  # gridwatch.leases.LeaseKeeper or None

    def collect(self) -> Iterator[Metric]:
        yield from _camera_metrics(self.manager.states())
        w = self.worker
        yield CounterMetricFamily("gridwatch_vision_frames", "Frames analysed by the vision worker",
                                  value=getattr(w, "frames_processed", 0))
        yield CounterMetricFamily("gridwatch_vision_stale_dropped_frames", "Frames too old to analyse, dropped",
                                  value=getattr(w, "stale_dropped", 0))
        yield CounterMetricFamily("gridwatch_vision_events", "Issue events the rules raised",
                                  value=getattr(w, "events_raised", 0))
        yield CounterMetricFamily("gridwatch_vision_missed_frames",
                                  "Frames handed over by readers but never analysed (vision was behind)",
                                  value=getattr(w, "frames_missed", 0))
        yield GaugeMetricFamily("gridwatch_vision_frames_per_input",
                                "Camera frames sharing one model input now (1 = full size; more under load)",
                                value=getattr(w, "frames_per_input", 1))
        times = getattr(w, "times", None)
        if times is not None:
            stages = CounterMetricFamily("gridwatch_vision_stage_seconds", "Seconds spent per stage", labels=["stage"])
            for stage in ("detect", "track", "pose", "rules"):
                stages.add_metric([stage], float(getattr(times, stage, 0.0)))
            yield stages
            yield CounterMetricFamily("gridwatch_vision_batches", "Model calls (batches)", value=times.batches)
            if times.frames:
                yield GaugeMetricFamily("gridwatch_inference_ms_per_frame", "Mean detector time per frame (ms)",
                                        value=times.detect * 1000 / times.frames)
        samples = list(getattr(w, "latencies", ()))
        if len(samples) >= 2:
            qs = statistics.quantiles(samples, n=20)
            lat = GaugeMetricFamily("gridwatch_capture_to_decision_seconds",
                                    "Capture to decision, recent frames", labels=["quantile"])
            lat.add_metric(["0.5"], statistics.median(samples))
            lat.add_metric(["0.95"], qs[18])
            yield lat
        if self.sink is not None:
            try:
                backlog = self.sink.health().backlog
            except Exception as exc:  # noqa: BLE001 - a metric must never break the scrape
                log.warning("metrics: outbox backlog not measured: %s", exc)
                backlog = None
            if backlog is not None:
                yield GaugeMetricFamily("gridwatch_outbox_backlog", "Alerts stored, not yet published", value=backlog)
        if self.keeper is not None:
            yield GaugeMetricFamily("gridwatch_cameras_held", "Cameras this worker holds the lease of",
                                    value=len(self.keeper.held))
            yield GaugeMetricFamily("gridwatch_live_workers", "Workers sharing the cameras",
                                    value=self.keeper.live_workers)
        yield from _queue_metrics(self.client)


class RedisCollector(Collector):
    """The city as Redis shows it: every camera's published state and the alert queues (for the dashboard)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        try:
            ids = sorted(m.decode() if isinstance(m, bytes) else m for m in self.client.smembers(keys.CAMERA_INDEX))
            pipe = self.client.pipeline()
            for cid in ids:
                pipe.hgetall(keys.camera_state(cid))
            states = [camera_state_from_hash(h) for h in pipe.execute() if h]
        except (redis.RedisError, KeyError, ValueError) as exc:
            log.warning("metrics: camera states not read: %s", exc)
            states = []
        yield from _camera_metrics(states)
        yield from _queue_metrics(self.client)


def registry_of(*collectors: Collector) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    for c in collectors:
        reg.register(c)
    return reg


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_metrics(collector: Collector, host: str, port: int) -> MetricsServer:
    """``/metrics`` on its own port, in a daemon thread (``port`` 0 = any free one)."""
    server, thread = start_http_server(port, addr=host, registry=registry_of(collector))
    return MetricsServer(server, thread)
