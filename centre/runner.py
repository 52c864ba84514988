"""Composition root: builds each part from the settings, starts them in order and stops them in reverse.

``gridwatch run`` uses all of it (the demo: one process tree on embedded defaults); ``gridwatch worker`` and
``gridwatch dashboard`` use the pieces they need.
"""
from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

import redis
from pydantic import SecretStr

from dashboard.guard import refuse_open_exposure
from gridwatch import boxes, keys
from gridwatch.events import camera_state_to_hash
from gridwatch.health import HeartbeatThread, http_ok
from gridwatch.lifecycle import Lifecycle
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import SHARED_DIR, CameraSettings, CameraVisionSettings, Settings
from gridwatch.types import CameraState, Detections, Frame
from vision.model_registry import with_registered

log = logging.getLogger(__name__)

CAMERA_STATE_TTL_S = 30
PREVIEW_TTL_MS = 5000
HEARTBEAT_TTL_S = 15


@dataclass(frozen=True)
class RedisHandle:
    client: redis.Redis
    url: str  # with the password; never log it, use mask_url


def open_redis(settings: Settings, life: Lifecycle) -> RedisHandle:
    """REDIS_URL when set, else a private redis-server that stops with the lifecycle: its data in an append-only
    file in ``data_dir/redis`` (tracks and coverage outlive a restart), restarted by a supervisor if it dies."""
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
    else:
        server = EmbeddedRedis(data_dir=settings.data_dir / "redis", supervise=True).start()
        life.started(f"private redis-server on port {server.port}", server.stop)
        url = server.url
    client = redis.Redis.from_url(url, health_check_interval=30)
    client.ping()
    life.started("redis client", client.close)
    return RedisHandle(client, url)


def open_repository(settings: Settings, life: Lifecycle):  # type: ignore[no-untyped-def]
    """Migrate the database and import the configured grid map when it holds no grids yet."""
    from alerts.db import make_engine, migrate
    from alerts.gridstaff import GridStaffStore
    from alerts.repository import Repository
    from geo.datum import map_source_in_wgs84
    from geo.grids import load_geojson

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    life.started("database engine", engine.dispose)
    migrate(engine)
    repo = Repository(engine)
    if settings.grids_file is not None and repo.grid_count() == 0:
        source = map_source_in_wgs84(settings.grids_file, settings.locale.grids_datum)
        features = load_geojson(source)
        count = repo.replace_grids(features)
        staff = GridStaffStore(engine).replace_all(features)
        log.info("imported %d grids (%d staff names) from %s", count, staff, settings.grids_file)
    return repo


def start_grid_maps(repo, life: Lifecycle):  # type: ignore[no-untyped-def]
    """Grid routers that follow the stored map: an import while this process runs is taken within seconds."""
    from geo.gridmap import GridMapWatcher

    watcher = GridMapWatcher(repo).start()
    life.started("grid map watcher", watcher.stop)
    return watcher


def start_verdict_filters(repo, settings: Settings, life: Lifecycle):  # type: ignore[no-untyped-def]
    """The verdict filters new alerts are scored with, following the stored ones (`gridwatch learn`)."""
    from alerts.filters import FilterSet, FilterWatcher

    filters = FilterSet(settings.learning.review_threshold, settings.learning.enabled)
    watcher = FilterWatcher(repo.engine, filters, settings.learning.reload_seconds).start()
    life.started("verdict filter watcher", watcher.stop)
    return filters


DEMO_LAP_ROUTE = "demo-lap"  # the demo car's timed route (demo.lap), registered while the demo runs
DEMO_CLIP_VERSION = 1  # bump when the lap clip's recipe changes, so a cached clip is made again


def demo_lap(settings: Settings):  # type: ignore[no-untyped-def]
    """The demo car's lap (GPS schedule) and its clip: street footage + the park drive-by, made once, then reused."""
    import hashlib

    from demo.driveby import frame_count, scene_photo, write_lap_clip
    from demo.lap import make_lap

    photo, spec = scene_photo(settings.demo.scene, SHARED_DIR / "images")
    lap = make_lap(settings.demo.lap_seconds, spec.fps, frame_count(spec))
    street = settings.demo.street_video
    if not street.is_file():
        raise FileNotFoundError(f"demo.street_video not found: {street}")
    stat = street.stat()
    recipe = f"{DEMO_CLIP_VERSION}|{street.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{spec}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    out = settings.data_dir / "demo" / f"lap-{settings.demo.scene}-{lap.frames}f-{lap.pass_start}-{key}.mp4"
    if not out.exists():
        log.info("making the demo lap clip %s (once; about a minute)", out)
        tmp = out.with_suffix(".part.mp4")
        write_lap_clip(photo, spec, street, tmp, lap.frames, lap.pass_start)
        tmp.replace(out)  # a half-written clip is never taken for a finished one
    return lap, out


def start_demo_camera(settings: Settings, life: Lifecycle) -> Settings:
    """Start the local RTSP server with the demo car's stream and add the car to the cameras.

    Without demo.video the stream is the demo lap, played on the wall clock from the route epoch, and the car's
    GPS is the lap's timed route (registered as ``DEMO_LAP_ROUTE``): the park is always seen at the same place.
    """
    from demo.server import RtspTestServer
    from geo.routes import ROUTE_EPOCH, register_route

    port = settings.demo.rtsp_port or None
    if settings.demo.video is not None:
        server = RtspTestServer(settings.demo.video, port=port, mount="/demo-car").start()
        gps_route = settings.demo.gps_route
    else:
        lap, video = demo_lap(settings)
        register_route(DEMO_LAP_ROUTE, lap.route)
        server = RtspTestServer(video, port=port, mount="/demo-car", epoch=ROUTE_EPOCH.timestamp()).start()
        gps_route = DEMO_LAP_ROUTE
        log.info("demo car: a %.0f s lap, passing the park %.1f-%.1f s into each lap", lap.lap_seconds,
                 lap.pass_start / lap.fps, lap.pass_end / lap.fps)
    life.started(f"demo RTSP server {server.url}", server.stop)
    car = CameraSettings(
        id=DEMO_CAMERA_ID, name="巡逻车 豫A·G2024 (demo)", url=server.url, gps_route=gps_route,  # type: ignore[arg-type]
        # The park's people sit on walls and chairs by their tents: the demo car opts into "seated".
        vision=CameraVisionSettings(vagrant_postures=settings.demo.vagrant_postures),
    )
    return settings.model_copy(update={"cameras": (*settings.cameras, car)})


def demo_car_changes(stored: CameraSettings, car: CameraSettings) -> dict[str, object]:
    """The registry's demo car follows this run's stream and route; a registry from before the demo opted into
    seated gets the demo's postures (set ones, the operator's edit, stay)."""
    changes: dict[str, object] = {"url": car.url.get_secret_value(), "gps_route": car.gps_route}
    if stored.vision.vagrant_postures is None:
        changes["vision"] = stored.vision.model_copy(update={"vagrant_postures": car.vision.vagrant_postures})
    return changes


def start_demo_telemetry(settings: Settings, dashboard_url: str, life: Lifecycle) -> None:
    """The demo car reports its GPS like a real one (HTTP telemetry), so the wall shows it on the map and its
    coverage; it drives the same route as its camera's frames, from the same epoch, so both agree."""
    from demo.simulate_car import CarSimulator, http_sender
    from geo.routes import route

    name = next(c.gps_route for c in settings.cameras if c.id == DEMO_CAMERA_ID) or settings.demo.gps_route
    token = settings.auth.device_token.get_secret_value() if settings.auth.device_token else None
    car = CarSimulator(route(name), http_sender(dashboard_url, DEMO_CAMERA_ID, token=token),
                       rate_hz=1.0, vehicle_id=DEMO_CAMERA_ID).start()
    life.started(f"demo car telemetry ({name})", car.stop)


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


def start_model_watcher(settings: Settings, worker, life: Lifecycle) -> None:  # type: ignore[no-untyped-def]
    """The worker follows the registered model (`gridwatch dataset train`): a newer one is loaded and swapped in."""
    from vision.model_registry import ModelWatcher
    from vision.yolo import Detector

    watcher = ModelWatcher(settings, Detector, worker.use_model, settings.learning.reload_seconds).start()
    life.started("model registry watcher", watcher.stop)


DEMO_CAMERA_ID = "demo-car"


def start_worker(  # type: ignore[no-untyped-def]
    settings: Settings, client: redis.Redis, repo, life: Lifecycle, detector=None, *, share_cameras: bool = False
) -> object:
    """Cameras (run-time registry + readers), recording, the detector, the rules and the alert sink, in one worker.

    ``share_cameras``: this worker runs only the cameras whose lease it holds (``gridwatch.leases``), so several
    ``gridwatch worker`` processes split the cameras and take over a crashed one's.
    """
    from alerts.sink import AlertSink
    from gridwatch.health import beat
    from gridwatch.leases import LeaseKeeper
    from gridwatch.types import IssueEvent
    from ingest.clips import ClipService
    from ingest.gps import TelemetryStore, gps_for_camera
    from ingest.main_snapshots import MainSnapshots
    from ingest.manager import CameraManager, forget_camera_state
    from ingest.recorder import Recorder
    from ingest.registry import CameraRegistry, RegistryError, redis_announcer
    from ingest.retention import RetentionSweeper
    from vision.annotate import draw, to_jpeg
    from vision.worker import VisionWorker

    if detector is None:
        detector = load_detector(settings)
    grids = start_grid_maps(repo, life).router()  # follows the stored map, which `grids import` may replace
    # Alert + outbox row in one transaction; the relay publishes to the stream (and catches up after an outage).
    sink = AlertSink(repo, client, settings.media_dir, grids, language=settings.locale.language,
                     filters=start_verdict_filters(repo, settings, life)).start()
    life.started("alert outbox relay", sink.stop)

    registry = CameraRegistry.for_settings(settings, redis_announcer(client))
    for cam in settings.cameras:
        if cam.id == DEMO_CAMERA_ID:
            # The demo RTSP server may get a new port each start, and the demo may drive another route; the
            # registry keeps the camera's other edits.
            try:
                registry.update(cam.id, demo_car_changes(registry.get(cam.id), cam))
            except RegistryError as exc:
                log.info("demo car not updated in the camera registry: %s", exc)
    store = TelemetryStore(client, settings.ingest.telemetry_track_seconds)
    recorder = Recorder(settings.recording, settings.media_dir) if settings.recording.enabled else None
    worker_id = settings.worker.effective_id
    keeper: LeaseKeeper | None = None
    if share_cameras:
        keeper = LeaseKeeper(
            client, worker_id,
            cameras=lambda: [cid for cid, cam in manager.configs().items() if cam.enabled],
            ttl_seconds=settings.worker.lease_ttl_seconds,
            renew_seconds=settings.worker.lease_renew_seconds,
            on_change=lambda: manager.request_reapply(),
            # Holding no camera there is nothing to analyse: the lease round is this worker's progress.
            on_round=lambda k: None if k.held else beat(client, "worker", worker_id, HEARTBEAT_TTL_S),
        )
        # Registered before the manager, so it stops after it: leases go back only once this worker's readers
        # have stopped, and a camera is never read by two workers.
        life.started(f"camera leases of worker {worker_id}", keeper.stop)
    manager = CameraManager(
        settings.ingest,
        registry,
        redis_client=client,
        on_state=lambda s: publish_camera_state(client, s),
        on_removed=lambda cid: forget_camera_state(client, cid),
        gps_for=lambda cam: gps_for_camera(cam, settings.ingest, store),
        recorder=recorder,
        runs=keeper.holds if keeper is not None else None,
    ).start()
    life.started("camera manager", manager.stop)
    if keeper is not None:
        keeper.start()

    clips: ClipService | None = None
    if recorder is not None:
        clips = ClipService(recorder, settings.media_dir, settings.recording).start()
        life.started("clip writer", clips.stop)
        sweeper = RetentionSweeper(
            [settings.media_dir / "clips", settings.media_dir / "snapshots"],
            settings.recording.retention_days,
            settings.recording.retention_gb,
        ).start()
        life.started("media retention", sweeper.stop)

    main_snapshots = MainSnapshots(manager.readers)  # cameras with a detect_url: snapshot from the main stream

    def on_event(event: IssueEvent) -> None:
        alert = sink.record(main_snapshots.apply(event))
        if alert is not None and clips is not None:
            clips.request(alert.id, alert.camera_id, alert.detected_at)

    def preview(frame: Frame, dets: Detections) -> None:
        try:
            jpeg = to_jpeg(draw(frame.image, dets, lang=settings.locale.language))
            client.set(keys.camera_preview(frame.camera_id), jpeg, px=PREVIEW_TTL_MS)
            # The same boxes for the live video overlay (dashboard.live), timed by the frame's capture.
            client.publish(boxes.channel(frame.camera_id), boxes.encode(frame, dets))
        except redis.RedisError as exc:
            log.warning("preview of %s not published: %s", frame.camera_id, exc)

    def heartbeat() -> None:
        beat(client, "worker", worker_id, HEARTBEAT_TTL_S)

    # A pass that looks at an open case's place and sees nothing of it: the case goes to the operator's check.
    from alerts.cases import CaseService
    from alerts.clearance import ClearWatch, fixed_cameras

    fixed = fixed_cameras(manager.configs, ttl_s=1.0)
    clear = ClearWatch(repo.engine, CaseService(repo.engine, grids, settings.cases, fixed), settings.media_dir,
                       fixed_camera=fixed)

    def on_frame(frame: Frame, seen: list[tuple[str, tuple[float, float, float, float]]]) -> None:
        clear.observe(frame, seen, manager.configs().get(frame.camera_id))

    worker = VisionWorker(
        settings, manager.readers, detector, on_event=on_event, on_preview=preview, heartbeat=heartbeat,
        camera_configs=manager.configs, on_frame=on_frame,
    )
    worker.start()
    life.started("vision worker", worker.stop)
    start_model_watcher(settings, worker, life)
    if share_cameras and settings.worker.metrics_port is not None:  # production workers; not the one-process demo
        from gridwatch.metrics import WorkerCollector, serve_metrics

        metrics = serve_metrics(
            WorkerCollector(worker_id, manager, worker, client, sink=sink, keeper=keeper),
            settings.worker.metrics_host, settings.worker.metrics_port,
        )
        life.started(f"metrics on http://{settings.worker.metrics_host}:{metrics.port}/metrics", metrics.stop)
    return worker


def start_cases(settings: Settings, client: redis.Redis, repo, life: Lifecycle) -> object:  # type: ignore[no-untyped-def]
    """The case consumer: alerts from the stream (consumer group, acknowledged, reclaimed) become deduplicated cases."""
    from alerts.cases import CaseService
    from alerts.clearance import fixed_cameras
    from alerts.consumer import StreamConsumer
    from ingest.registry import CameraRegistry

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
    from alerts.nightly_learning import start_nightly_learning  # learning.nightly_at: one alerts process learns

    start_nightly_learning(settings, client, repo.engine, life)
    return consumer


def dashboard_blueprints(settings: Settings, client: redis.Redis, repo, router):  # type: ignore[no-untyped-def]
    """Every route the dashboard serves beside the wall and its API (the front door's table covers each), and the
    GPS intake they share with the telemetry websocket."""
    from dashboard import cases_api, open311
    from dashboard.evidence_api import evidence_blueprint
    from fleet.api import build_fleet, fleet_blueprint
    from fleet.telemetry import TelemetryIngest
    from fleet.telemetry_api import telemetry_blueprint
    from fleet.vehicles import FleetTelemetryStore
    from gridwatch.metrics import RedisCollector, metrics_blueprint
    from ingest.cameras_api import cameras_blueprint
    from ingest.registry import CameraRegistry, redis_announcer

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


def start_dashboard(settings: Settings, handle: RedisHandle, repo, life: Lifecycle):  # type: ignore[no-untyped-def]
    """The wall, the JSON API (with vehicle telemetry and camera management) and the push websocket."""
    from dashboard.server import DashboardServer
    from fleet.telemetry_ws import TelemetryWsServer

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


def with_demo_device_token(settings: Settings) -> Settings:
    """The demo car posts its GPS like a real one; with no auth.device_token it gets a token made for this run
    (the car routes stay closed to everybody else)."""
    if not settings.demo.enabled or settings.auth.device_token is not None:
        return settings
    auth = settings.auth.model_copy(update={"device_token": SecretStr(secrets.token_urlsafe(32))})
    return settings.model_copy(update={"auth": auth})


def demo_users(settings: Settings, repo, life: Lifecycle) -> None:  # type: ignore[no-untyped-def]
    """The demo users (published passwords) exist only while ``gridwatch run`` runs the demo: added at its
    start, removed when it stops, and removed by any start without the demo."""
    from alerts.users import UserStore

    store = UserStore(repo.engine)
    if not settings.demo.enabled:
        remove_demo_users(repo)
        return
    added = store.seed_demo()
    if added:
        log.info("demo users added: %s (passwords in the README; removed when the demo stops)", ", ".join(added))
    life.started("demo users", lambda: remove_demo_users(repo))


def remove_demo_users(repo) -> None:  # type: ignore[no-untyped-def]
    from alerts.users import UserStore

    removed = UserStore(repo.engine).remove_demo()
    if removed:
        log.warning("demo users removed (their passwords are published): %s", ", ".join(removed))


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


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Production worker: ingest + vision for the configured cameras, against a shared Redis and database."""
    if settings.redis_url is None:
        raise SystemExit("gridwatch worker needs redis_url (REDIS_URL) shared with the dashboard")
    refuse_open_exposure(settings, "worker")
    settings = with_registered(settings)  # a city's own model, registered by `gridwatch dataset train`
    detector = load_detector(settings)
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        start_worker(settings, handle.client, repo, life, detector, share_cameras=True)
        stop.wait()


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """Production alerts consumer: scale out by running more of them (one Redis consumer group)."""
    if settings.redis_url is None:
        raise SystemExit("gridwatch alerts needs redis_url (REDIS_URL) shared with the workers")
    refuse_open_exposure(settings, "alerts")
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        start_cases(settings, handle.client, repo, life)
        stop.wait()


def run_dashboard(settings: Settings, stop: threading.Event, on_ready: Callable[[str], object] | None = None) -> None:
    """Production dashboard: the wall, the JSON API and the push websocket."""
    if settings.redis_url is None:
        raise SystemExit("gridwatch dashboard needs redis_url (REDIS_URL) shared with the workers")
    refuse_open_exposure(settings, "dashboard")
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        remove_demo_users(repo)
        server = start_dashboard(settings, handle, repo, life)
        if on_ready is not None:
            on_ready(server.url)
        stop.wait()
