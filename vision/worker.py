"""The worker: frames from every camera reader -> one batched detector call -> per-camera tracker -> rules.

One model instance serves all cameras of the process. Each turn of the loop takes the newest frame of every
camera that has one ready (never waiting for a slow or silent camera), drops those older than the staleness
budget (``vision.max_frame_age_seconds``, counted per camera), and runs the rest through
``vision.pipeline.process_batch`` as one batch of at most ``vision.max_batch`` frames, oldest first. Frames
that arrive while a batch runs make up the next one, so batches grow with the load by themselves. When the
worker still misses frames, its ``StackController`` has the detector put several cameras' frames in one model
input (``vision.max_frames_per_input``), and takes them back to full size when the CPU has room again.

What happens to events (storing, publishing), to preview frames and to what each analysed frame still sees
(``on_frame``: a pass that sees a case's place clear) is handed in as callables, so the loop knows nothing of
the database or the wall.
"""
from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gridwatch.loop import ThreadPart
from gridwatch.settings import CameraSettings, Settings, VisionSettings
from gridwatch.types import Detections, Frame, IssueEvent
from vision.load_control import StackController, missed_frames
from vision.pipeline import CameraPipeline, StageTimes, process_batch
from vision.pose import PoseEstimator
from vision.yolo import Detector
from vision.zones import CameraView

log = logging.getLogger(__name__)

EventSink = Callable[[IssueEvent], object]
PreviewSink = Callable[[Frame, Detections], object]
FrameSink = Callable[[Frame, list[tuple[str, tuple[float, float, float, float]]]], object]
"""Each analysed frame with the (category, box) of every issue its camera's rules hold open at that frame."""
Heartbeat = Callable[[], object]
Clock = Callable[[], datetime]
CameraConfigs = Callable[[], Mapping[str, CameraSettings]]

IDLE_WAIT_S = 0.005
LATENCY_SAMPLES = 4096
CONFIG_CHECK_S = 1.0  # how often a camera's settings are compared with those its pipeline was built from


class FrameSource(Protocol):
    """What the worker needs of a camera reader (``ingest.reader.CameraReader`` is one)."""

    def latest(self, after_seq: int = -1) -> Frame | None: ...


@dataclass
class CameraCounters:
    processed: int = 0
    stale_dropped: int = 0
    events: int = 0


class _LoadFromSettings:
    """Marker: build the pose estimator from ``settings.vision.pose_model``."""


LOAD_POSE = _LoadFromSettings()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class VisionWorker(ThreadPart):
    """One detector shared by all cameras of this process; a tracker and rule states per camera."""

    def __init__(
        self,
        settings: Settings,
        readers: Mapping[str, FrameSource],
        detector: Detector,
        on_event: EventSink,
        on_preview: PreviewSink | None = None,
        heartbeat: Heartbeat | None = None,
        *,
        pose: PoseEstimator | None | _LoadFromSettings = LOAD_POSE,
        clock: Clock = _utc_now,
        camera_configs: CameraConfigs | None = None,
        on_frame: FrameSink | None = None,
    ) -> None:
        """``readers`` may change while the worker runs (a live mapping such as ``CameraManager.readers``):
        cameras that appear get a pipeline, a camera whose reader object changes (a new URL) starts afresh,
        and one that disappears has its open issues ended. ``camera_configs`` gives the cameras' current
        settings (zones, moving or fixed) when they can change at run time; default ``settings.cameras``.
        """
        super().__init__("vision-worker")
        self._settings = settings
        self._readers = readers
        self._detector = detector
        self._on_event = on_event
        self._on_preview = on_preview
        self._on_frame = on_frame
        self._heartbeat = heartbeat
        self._clock = clock
        if isinstance(pose, _LoadFromSettings):
            wants_pose = settings.vision.pose_model is not None and "vagrant" in settings.rules.enabled
            pose = PoseEstimator(settings.vision) if wants_pose and detector.task != "pose" else None
        self._pose = pose
        static = {c.id: c for c in settings.cameras}
        self._camera_configs: CameraConfigs = camera_configs or (lambda: static)
        self._pipes: dict[str, CameraPipeline] = {}
        self._built_from: dict[str, tuple[FrameSource, CameraSettings | None]] = {}
        self._configs_checked = 0.0
        self.counters: dict[str, CameraCounters] = {}
        self._sync_cameras(check_configs=True)
        self._rotate = 0
        self.times = StageTimes()
        # Seconds from a frame's capture to the end of its rules (when its events are out), newest last.
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_SAMPLES)
        self.events_raised = 0
        self.stacking = StackController.up_to(settings.vision.max_frames_per_input)
        self._stale_since_batch = 0
        self.frames_missed = 0  # handed over by a reader, never analysed (replaced by a newer one, or stale)
        self._next_model: tuple[Detector, VisionSettings] | None = None  # use_model(): taken at the next batch

    @property
    def frames_per_input(self) -> int:
        """How many camera frames currently share one model input (1 = full size)."""
        return self.stacking.frames_per_input

    @property
    def frames_processed(self) -> int:
        return sum(c.processed for c in self.counters.values())

    @property
    def cameras(self) -> tuple[str, ...]:
        """The cameras the worker currently analyses."""
        return tuple(self._pipes)

    @property
    def stale_dropped(self) -> int:
        return sum(c.stale_dropped for c in self.counters.values())

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the loop, then end every open issue (END events go to ``on_event``); a loop still in its batch
        keeps its pipelines, so no END is sent beside the batch's own events."""
        if not super().stop(timeout):
            return False
        for pipe in list(self._pipes.values()):
            self._emit(pipe.camera_id, pipe.finish())
        return True

    def _left_busy(self, timeout: float) -> None:
        log.warning("vision worker still busy after %.1f s; left to finish its batch", timeout)

    # ---- cameras --------------------------------------------------------------------------------------

    def _build(self, camera_id: str, config: CameraSettings | None) -> CameraPipeline:
        settings = self._settings
        view = (CameraView.from_settings(config, settings.rules) if config is not None
                else CameraView.simple(camera_id, mobile=False, rules=settings.rules))
        tracker = config.vision.tracker if config is not None else None
        pipe = CameraPipeline(view, settings.vision, settings.rules, settings.ingest.detect_fps, tracker=tracker)
        log.info("camera %s: %s camera, tracker %s, rules %s", camera_id, "moving" if view.mobile else "fixed",
                 pipe.tracker.name, ", ".join(pipe.rules.names) or "none")
        return pipe

    def _sync_cameras(self, check_configs: bool = False) -> None:
        """Follow the readers mapping: new cameras, replaced readers, changed settings, removed cameras."""
        readers = dict(self._readers)  # one consistent view for this turn
        configs = self._camera_configs() if check_configs else None
        for cid, reader in readers.items():
            built = self._built_from.get(cid)
            config = configs.get(cid) if configs is not None else (built[1] if built else None)
            if built is not None and built[0] is reader and (configs is None or built[1] == config):
                continue
            if configs is None and built is None:
                config = self._camera_configs().get(cid)
            if cid in self._pipes:
                # A new connection or new settings: the old tracks and issues end, the camera starts afresh.
                log.info("camera %s changed (new reader or settings); its pipeline starts afresh", cid)
                self._emit(cid, self._pipes[cid].finish())
            self._pipes[cid] = self._build(cid, config)
            self._built_from[cid] = (reader, config)
            self.counters.setdefault(cid, CameraCounters())
        for cid in [c for c in self._pipes if c not in readers]:
            log.info("camera %s removed; ending its open issues", cid)
            self._emit(cid, self._pipes.pop(cid).finish())
            self._built_from.pop(cid, None)

    # ---- one batch ------------------------------------------------------------------------------------

    def use_model(self, detector: Detector, vision: VisionSettings) -> None:
        """Swap to another detector and its vision settings (a newly registered model, ``vision.model_registry``)
        between two batches; every camera starts afresh, as its classes and their categories may have changed."""
        self._next_model = (detector, vision)

    @property
    def detector(self) -> Detector:
        return self._detector

    def _swap_model(self) -> None:
        swap, self._next_model = self._next_model, None
        if swap is None:
            return
        self._detector, vision = swap
        self._settings = self._settings.model_copy(update={"vision": vision})
        for cid in list(self._pipes):
            self._emit(cid, self._pipes.pop(cid).finish())
            self._built_from.pop(cid, None)
        log.info("vision: now on model %s (%d classes)", vision.model, len(self._detector.names))

    def collect(self) -> list[tuple[CameraPipeline, Frame]]:
        """The ready, fresh frames (one per camera, oldest first, at most ``max_batch``); stale ones dropped."""
        self._swap_model()
        mono = time.monotonic()
        check = mono - self._configs_checked >= CONFIG_CHECK_S
        if check:
            self._configs_checked = mono
        self._sync_cameras(check_configs=check)
        budget = self._settings.vision.max_frame_age_seconds
        now = self._clock()
        ready: list[tuple[CameraPipeline, Frame]] = []
        ids = list(self._pipes)
        # Start the scan at a different camera each turn so no camera is always last in a full batch.
        self._rotate = (self._rotate + 1) % max(1, len(ids))
        for cid in ids[self._rotate:] + ids[:self._rotate]:
            pipe = self._pipes[cid]
            reader = self._built_from[cid][0]
            frame = reader.latest(after_seq=pipe.last_seq)
            if frame is None:
                continue
            if (now - frame.captured_at).total_seconds() > budget:
                pipe.last_seq = frame.seq
                self.counters[cid].stale_dropped += 1
                self._stale_since_batch += 1
                log.debug("camera %s: frame %d dropped, %.2f s old", cid, frame.seq,
                          (now - frame.captured_at).total_seconds())
                continue
            ready.append((pipe, frame))
        ready.sort(key=lambda item: item[1].captured_at)
        return ready[:self._settings.vision.max_batch]

    def process_frames(self, items: list[tuple[CameraPipeline, Frame]]) -> list[IssueEvent]:
        """Run one batch through detection, tracking, pose and rules; hand out previews and events."""
        # A camera removed or rebuilt while its frame waited (e.g. during the pairing wait) is skipped.
        items = [(pipe, frame) for pipe, frame in items if self._pipes.get(pipe.camera_id) is pipe]
        if not items:
            return []
        started = time.monotonic()
        missed = missed_frames([p.last_seq for p, _ in items], [f.seq for _, f in items]) + self._stale_since_batch
        self._stale_since_batch = 0
        self.frames_missed += missed
        try:
            results, times = process_batch(self._detector, self._pose, items, self._settings.vision,
                                           self._settings.rules, per_input=self.stacking.frames_per_input)
        except Exception:
            # A failing batch must not stop the worker; skip its frames and go on with newer ones.
            log.exception("vision failed on a batch of cameras %s", ", ".join(p.camera_id for p, _ in items))
            for pipe, frame in items:
                pipe.last_seq = frame.seq
            return []
        self.times.add(times)
        before = self.stacking.frames_per_input
        now = time.monotonic()
        if self.stacking.observe(now, len(items), missed, now - started) != before:
            log.info("vision: %d frames per model input from now (%d missed in the last batch)",
                     self.stacking.frames_per_input, missed)
        done = self._clock()
        events: list[IssueEvent] = []
        for res in results:
            self.counters.setdefault(res.pipeline.camera_id, CameraCounters()).processed += 1
            self.latencies.append((done - res.frame.captured_at).total_seconds())
            if self._on_preview is not None:
                try:
                    self._on_preview(res.frame, res.detections)
                except Exception:
                    log.exception("preview of camera %s failed", res.pipeline.camera_id)
            self._emit(res.pipeline.camera_id, res.events)
            events.extend(res.events)
            if self._on_frame is not None:
                try:
                    self._on_frame(res.frame, res.seen)
                except Exception:
                    log.exception("frame report of camera %s failed", res.pipeline.camera_id)
        return events

    def process(self, camera_id: str, frame: Frame) -> list[IssueEvent]:
        """One frame of one camera, as a batch of one (tests and tools)."""
        return self.process_frames([(self._pipes[camera_id], frame)])

    def _emit(self, camera_id: str, events: list[IssueEvent]) -> None:
        for event in events:
            self.events_raised += 1
            self.counters.setdefault(camera_id, CameraCounters()).events += 1
            log.info("issue %s %s on camera %s track %d (event %s)", event.category, event.phase.value,
                     camera_id, event.track_id, event.event_id)
            try:
                self._on_event(event)
            except Exception:
                log.exception("storing event %s from camera %s failed", event.event_id, camera_id)

    def _gather(self, items: list[tuple[CameraPipeline, Frame]]) -> list[tuple[CameraPipeline, Frame]]:
        """While frames are stacked, a lone frame waits up to ``vision.batch_wait_seconds`` for company.

        Frames sharing a model input cost a fraction of one each; the wait is short next to a camera's frame
        interval, and never made at full size or when there is no one to wait for.
        """
        vision = self._settings.vision
        if (len(items) != 1 or self.stacking.frames_per_input < 2 or vision.batch_wait_seconds <= 0
                or len(self._pipes) < 2):
            return items
        deadline = time.monotonic() + vision.batch_wait_seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(IDLE_WAIT_S)
            more = [item for item in self.collect() if item[0] is not items[0][0]]
            if more:
                return items + more[:vision.max_batch - 1]
        return items

    def _run(self) -> None:
        while not self._stop.is_set():
            items = self.collect()
            if not items:
                self._stop.wait(IDLE_WAIT_S)
                continue
            items = self._gather(items)
            started = time.perf_counter()
            self.process_frames(items)
            log.debug("batch of %d frames in %.0f ms", len(items), (time.perf_counter() - started) * 1000)
            if self._heartbeat is not None:
                try:
                    self._heartbeat()
                except Exception:
                    log.exception("heartbeat failed")
