"""The worker: frames from every camera reader -> detector -> per-camera tracker -> rules -> issue events.

It is the composition of the vision stage; what happens to events (storing, publishing) and to preview
frames is handed in as callables, so the loop knows nothing of the database or the wall.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gridwatch.settings import Settings
from gridwatch.types import Detections, Frame, IssueEvent, TrackedFrame
from ingest.reader import CameraReader
from vision.rules import DwellState, dwell_rule
from vision.yolo import Detector, Tracker, make_tracker

log = logging.getLogger(__name__)

EventSink = Callable[[IssueEvent], object]
PreviewSink = Callable[[Frame, Detections], object]
Heartbeat = Callable[[], object]


@dataclass
class _CameraLoop:
    tracker: Tracker
    state: DwellState = field(default_factory=DwellState)
    last_seq: int = -1


class VisionWorker:
    """One detector shared by all cameras of this process; a tracker and rule state per camera."""

    def __init__(
        self,
        settings: Settings,
        readers: Mapping[str, CameraReader],
        detector: Detector,
        on_event: EventSink,
        on_preview: PreviewSink | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._settings = settings
        self._readers = readers
        self._detector = detector
        self._on_event = on_event
        self._on_preview = on_preview
        self._heartbeat = heartbeat
        fps = settings.ingest.detect_fps
        self._loops = {cid: _CameraLoop(tracker=make_tracker(settings.vision, fps)) for cid in readers}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_processed = 0
        self.events_raised = 0

    def start(self) -> VisionWorker:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vision-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def process(self, camera_id: str, frame: Frame) -> list[IssueEvent]:
        """Detect, track and apply the rules to one frame of one camera (also used by tests and analysis)."""
        loop = self._loops[camera_id]
        image: npt.NDArray[np.uint8] = frame.image
        dets = self._detector.detect(image)
        tracked = loop.tracker.update(dets, image)
        loop.state, events = dwell_rule(
            loop.state, TrackedFrame(frame=frame, detections=tracked), frame.captured_at, self._settings.rules
        )
        loop.last_seq = frame.seq
        self.frames_processed += 1
        if self._on_preview is not None:
            self._on_preview(frame, tracked)
        return events

    def _run(self) -> None:
        idle_sleep = min(0.02, 0.5 / self._settings.ingest.detect_fps)
        while not self._stop.is_set():
            progressed = False
            for camera_id, reader in self._readers.items():
                frame = reader.latest(after_seq=self._loops[camera_id].last_seq)
                if frame is None:
                    continue
                progressed = True
                try:
                    events = self.process(camera_id, frame)
                except Exception:
                    # One bad frame or camera must not stop the others; the traceback names the camera.
                    log.exception("vision failed on camera %s frame %d", camera_id, frame.seq)
                    continue
                for event in events:
                    self.events_raised += 1
                    log.info("issue %s on camera %s track %d", event.category, camera_id, event.track_id)
                    try:
                        self._on_event(event)
                    except Exception:
                        log.exception("storing event %s from camera %s failed", event.event_id, camera_id)
            if progressed:
                if self._heartbeat is not None:
                    self._heartbeat()
            else:
                self._stop.wait(idle_sleep)

