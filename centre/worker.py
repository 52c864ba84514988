"""``gridwatch worker``: cameras (run-time registry, readers, leases), recording, the detector, the rules and the
alert sink in one process; ``gridwatch run`` starts the same worker in its process tree."""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import redis

from alerts.cases import CaseService
from alerts.clearance import ClearWatch, fixed_cameras
from alerts.repository import Repository
from alerts.sink import AlertSink
from centre.demo_setup import DEMO_CAMERA_ID, demo_car_changes
from centre.services import check_production, open_redis, open_repository, start_grid_maps, start_verdict_filters
from gridwatch import boxes, keys
from gridwatch.events import camera_state_to_hash
from gridwatch.health import beat
from gridwatch.leases import LeaseKeeper
from gridwatch.lifecycle import Lifecycle
from gridwatch.metrics import WorkerCollector, serve_metrics
from gridwatch.settings import Settings
from gridwatch.types import CameraState, Detections, Frame, IssueEvent
from ingest.clips import ClipService
from ingest.gps import TelemetryStore, gps_for_camera
from ingest.main_snapshots import MainSnapshots
from ingest.manager import CameraManager, forget_camera_state
from ingest.recorder import Recorder
from ingest.registry import CameraRegistry, RegistryError, redis_announcer
from ingest.retention import RetentionSweeper
from vision.annotate import draw, to_jpeg
from vision.model_registry import ModelWatcher, with_registered

if TYPE_CHECKING:  # both load Ultralytics and torch (seconds): imported where a worker starts, not here
    from vision.worker import VisionWorker
    from vision.yolo import Detector

log = logging.getLogger(__name__)


CAMERA_STATE_TTL_S = 30
PREVIEW_TTL_MS = 5000
HEARTBEAT_TTL_S = 15


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


def load_detector(settings: Settings) -> Detector:
    """Load the model first: a missing or wrong weights file fails before any service starts."""
    from vision.yolo import Detector  # deferred: loads Ultralytics and torch (seconds)

    return Detector(settings.vision)


def start_model_watcher(settings: Settings, worker: VisionWorker, life: Lifecycle) -> None:
    """The worker follows the registered model (`gridwatch dataset train`): a newer one is loaded and swapped in."""
    from vision.yolo import Detector  # deferred: loads Ultralytics and torch (seconds)

    watcher = ModelWatcher(settings, Detector, worker.use_model, settings.learning.reload_seconds).start()
    life.started("model registry watcher", watcher.stop)


def start_worker(
    settings: Settings, client: redis.Redis, repo: Repository, life: Lifecycle, detector: Detector | None = None,
    *, share_cameras: bool = False,
) -> VisionWorker:
    """Cameras (run-time registry + readers), recording, the detector, the rules and the alert sink, in one worker.

    ``share_cameras``: this worker runs only the cameras whose lease it holds (``gridwatch.leases``), so several
    ``gridwatch worker`` processes split the cameras and take over a crashed one's.
    """
    from vision.worker import VisionWorker  # deferred: loads Ultralytics and torch (seconds)

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
        metrics = serve_metrics(
            WorkerCollector(worker_id, manager, worker, client, sink=sink, keeper=keeper),
            settings.worker.metrics_host, settings.worker.metrics_port,
        )
        life.started(f"metrics on http://{settings.worker.metrics_host}:{metrics.port}/metrics", metrics.stop)
    return worker


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Production worker: ingest + vision for the configured cameras, against a shared Redis and database."""
    check_production(settings, "worker", shared_with="dashboard")
    settings = with_registered(settings)  # a city's own model, registered by `gridwatch dataset train`
    detector = load_detector(settings)
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        start_worker(settings, handle.client, repo, life, detector, share_cameras=True)
        stop.wait()
