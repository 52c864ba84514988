"""A vision worker that falls behind stacks cameras' frames instead of missing them, and unstacks when it can.

The cameras here are still pictures handed over at 5 fps by a small paced source (the worker's ``FrameSource``
protocol): that lets the test say exactly when frames are missed. The detector and its weights are real.
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gridwatch.settings import load_settings
from gridwatch.types import Detections, Frame
from tests.vision.conftest import read_image
from vision.load_control import StackController
from vision.worker import VisionWorker
from vision.yolo import Detector


class PacedStill:
    """A camera that hands over its picture every ``period`` s; with ``skip`` > 0 that many frames in between
    count as handed over and replaced unseen, as a reader's are when vision is behind."""

    def __init__(self, camera_id: str, image: npt.NDArray[np.uint8], period: float = 0.2) -> None:
        self.camera_id, self.image, self.period = camera_id, image, period
        self.skip = 0
        self._seq = -1
        self._due = 0.0
        self._frame: Frame | None = None
        self._lock = threading.Lock()

    def latest(self, after_seq: int = -1) -> Frame | None:
        with self._lock:
            now = time.monotonic()
            if now >= self._due:
                self._due = now + self.period
                self._seq += 1 + self.skip
                self._frame = Frame(self.camera_id, self._seq, datetime.now(UTC), self.image)
            frame = self._frame
        return frame if frame is not None and frame.seq > after_seq else None


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.05)


def test_missed_frames_make_the_worker_stack_then_it_returns_to_full_size(shared_dir: Path, tmp_path: Path) -> None:
    zidane = read_image(shared_dir, "zidane.jpg")  # 16:9, so stackable
    cams = [PacedStill(f"cam-{n}", zidane) for n in range(4)]
    settings = load_settings(None, data_dir=tmp_path, demo={"enabled": False}, vision={"pose_model": None})
    people: list[tuple[int, int]] = []  # (frames per input, persons found) of every analysed frame

    def on_preview(frame: Frame, dets: Detections) -> None:
        people.append((worker.frames_per_input, dets.class_name.count("person")))

    worker = VisionWorker(settings, {c.camera_id: c for c in cams}, Detector(settings.vision),
                          on_event=lambda e: None, on_preview=on_preview)
    # Shorter memory than in production, so the test takes seconds.
    worker.stacking = StackController.up_to(6)
    worker.stacking.window_s, worker.stacking.calm_s = 0.5, 1.0
    for cam in cams:
        cam.skip = 2  # two of every three frames lost, whatever the worker does
    worker.start()
    try:
        wait_for(lambda: worker.frames_per_input == 6, 30, "six frames per model input")
        assert worker.frames_missed >= 20
        for cam in cams:  # the load drops: nothing missed, and 4 cameras at 2 fps leave room for full size
            cam.skip, cam.period = 0, 0.5
        wait_for(lambda: worker.frames_per_input == 1, 60, "full-size frames again")
        processed = worker.frames_processed
        wait_for(lambda: worker.frames_processed >= processed + 20, 30, "more frames analysed")
    finally:
        worker.stop()
    assert all(worker.counters[cam.camera_id].processed >= 10 for cam in cams)
    # Whatever the stacking, each camera's frames came back with the two men in the picture.
    for k in (1, 6):
        counts = [n for per_input, n in people if per_input == k]
        assert counts and sum(n == 2 for n in counts) >= 0.9 * len(counts), (k, counts)
