"""Composition root: builds each part from the settings, starts them in order and stops them in reverse.

``gridwatch run`` uses all of it (the demo: one process tree on embedded defaults); ``gridwatch worker`` and
``gridwatch dashboard`` use the pieces they need.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from gridwatch import keys
from gridwatch.events import camera_state_to_hash
from gridwatch.lifecycle import Lifecycle
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings, Settings
from gridwatch.types import CameraState, Detections, Frame

log = logging.getLogger(__name__)

CAMERA_STATE_TTL_S = 30
PREVIEW_TTL_MS = 5000
HEARTBEAT_TTL_S = 15


@dataclass(frozen=True)
class RedisHandle:
    client: redis.Redis
    url: str  # with the password; never log it, use mask_url


def open_redis(settings: Settings, life: Lifecycle) -> RedisHandle:
    """REDIS_URL when set, else a private redis-server that stops with the lifecycle."""
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
    else:
        server = EmbeddedRedis().start()
        life.started(f"private redis-server on port {server.port}", server.stop)
        url = server.url
    client = redis.Redis.from_url(url, health_check_interval=30)
    client.ping()
    life.started("redis client", client.close)
    return RedisHandle(client, url)


def open_repository(settings: Settings, life: Lifecycle):  # type: ignore[no-untyped-def]
    """Migrate the database and import the configured grid map when it holds no grids yet."""
    from alerts.db import make_engine, migrate
    from alerts.grids import load_geojson
    from alerts.repository import Repository
    from gridwatch.datum import map_source_in_wgs84

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    life.started("database engine", engine.dispose)
    migrate(engine)
    repo = Repository(engine)
    if settings.grids_file is not None and repo.grid_count() == 0:
        source = map_source_in_wgs84(settings.grids_file, settings.locale.grids_datum)
        count = repo.replace_grids(load_geojson(source))
        log.info("imported %d grids from %s", count, settings.grids_file)
    return repo


def start_demo_camera(settings: Settings, life: Lifecycle) -> Settings:
    """Start the local RTSP server looping the demo clip and add the demo patrol car to the cameras."""
    from ingest.demo_server import RtspTestServer

    port = settings.demo.rtsp_port or None
    server = RtspTestServer(settings.demo.video, port=port, mount="/demo-car").start()
    life.started(f"demo RTSP server {server.url}", server.stop)
    car = CameraSettings(
        id="demo-car", name="巡逻车 豫A·G2024 (demo)", url=server.url, gps_route=settings.demo.gps_route  # type: ignore[arg-type]
    )
    return settings.model_copy(update={"cameras": (*settings.cameras, car)})


def publish_camera_state(client: redis.Redis, state: CameraState) -> None:
    key = keys.camera_state(state.camera_id)
    try:
        pipe = client.pipeline()
        pipe.hset(key, mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
        pipe.expire(key, CAMERA_STATE_TTL_S)
        pipe.sadd(keys.CAMERA_INDEX, state.camera_id)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not publish state of camera %s: %s", state.camera_id, exc)


def load_detector(settings: Settings):  # type: ignore[no-untyped-def]
    """Load the model first: a missing or wrong weights file fails before any service starts."""
    from vision.yolo import Detector

    return Detector(settings.vision)


def start_worker(settings: Settings, client: redis.Redis, repo, life: Lifecycle, detector=None) -> object:  # type: ignore[no-untyped-def]
    """Readers for every enabled camera, the detector, the rules and the alert sink, in one worker."""
    from alerts.grids import GridIndex
    from alerts.sink import AlertSink
    from gridwatch.worker import VisionWorker
    from ingest.gps import route
    from ingest.reader import CameraReader
    from vision.annotate import draw, to_jpeg

    if detector is None:
        detector = load_detector(settings)
    grids = GridIndex(repo.list_grids())  # the map in the database, which `grids import` may have replaced
    sink = AlertSink(repo, client, settings.media_dir, grids)

    readers: dict[str, CameraReader] = {}
    for cam in settings.cameras:
        if not cam.enabled:
            continue
        gps = route(cam.gps_route).fix_at if cam.gps_route else None
        reader = CameraReader(cam, settings.ingest, gps=gps, on_state=lambda s: publish_camera_state(client, s))
        reader.start()
        life.started(f"reader {cam.id} ({cam.url.masked})", reader.stop)
        readers[cam.id] = reader

    def preview(frame: Frame, dets: Detections) -> None:
        try:
            client.set(keys.camera_preview(frame.camera_id), to_jpeg(draw(frame.image, dets)), px=PREVIEW_TTL_MS)
        except redis.RedisError as exc:
            log.warning("preview of %s not published: %s", frame.camera_id, exc)

    def heartbeat() -> None:
        try:
            client.set(keys.health("worker"), datetime.now(UTC).isoformat(), ex=HEARTBEAT_TTL_S)
        except redis.RedisError:
            pass  # the heartbeat lapsing is exactly how health checks notice

    worker = VisionWorker(settings, readers, detector, on_event=sink.record, on_preview=preview, heartbeat=heartbeat)
    worker.start()
    life.started("vision worker", worker.stop)
    return worker


def start_dashboard(settings: Settings, handle: RedisHandle, repo, life: Lifecycle):  # type: ignore[no-untyped-def]
    from dashboard.server import DashboardServer

    server = DashboardServer(settings, repo, handle.client, handle.url)
    server.start()
    life.started(f"dashboard {server.url}", server.stop)
    return server


def run_all(settings: Settings, stop: threading.Event, on_ready: Callable[[str], object] | None = None) -> None:
    """The whole command centre in one process tree, until ``stop`` is set."""
    detector = load_detector(settings)
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        if settings.demo.enabled:
            settings = start_demo_camera(settings, life)
        dashboard = start_dashboard(settings, handle, repo, life)
        start_worker(settings, handle.client, repo, life, detector)
        log.info("GridWatch wall: %s", dashboard.url)
        if on_ready is not None:
            on_ready(dashboard.url)
        stop.wait()
        log.info("shutting down")


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Production worker: ingest + vision for the configured cameras, against a shared Redis and database."""
    if settings.redis_url is None:
        raise SystemExit("gridwatch worker needs redis_url (REDIS_URL) shared with the dashboard")
    detector = load_detector(settings)
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        start_worker(settings, handle.client, repo, life, detector)
        stop.wait()


def run_dashboard(settings: Settings, stop: threading.Event, on_ready: Callable[[str], object] | None = None) -> None:
    """Production dashboard: the wall, the JSON API and the push websocket."""
    if settings.redis_url is None:
        raise SystemExit("gridwatch dashboard needs redis_url (REDIS_URL) shared with the workers")
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        server = start_dashboard(settings, handle, repo, life)
        if on_ready is not None:
            on_ready(server.url)
        stop.wait()
