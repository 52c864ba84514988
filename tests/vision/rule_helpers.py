"""Hand-built tracked frames for the pure rules (5 frames a second, a hand-set clock)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from gridwatch.types import Detections, Frame, GpsFix, TrackedFrame

T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=0.2)
SIZE = (640, 360)  # width, height of the hand-built frames

# An object in a frame: (track id, class name, xyxy, confidence)
Obj = tuple[int, str, Sequence[float], float]

SITTING_BOX = (300.0, 200.0, 360.0, 280.0)  # 80 x 60: a squat box, sitting by shape
STANDING_BOX = (300.0, 120.0, 340.0, 280.0)  # 160 x 40


def at(seq: int) -> datetime:
    return T0 + seq * STEP


def seconds(s: float) -> int:
    return round(s / STEP.total_seconds())


def tracked_frame(seq: int, objs: Sequence[Obj], camera: str = "cam-1", fix: GpsFix | None = None,
                  keypoints: Sequence[np.ndarray | None] | None = None) -> TrackedFrame:
    # Each frame's pixels carry its seq, so a test can tell which frame a snapshot is.
    image = np.full((SIZE[1], SIZE[0], 3), seq % 256, dtype=np.uint8)
    frame = Frame(camera_id=camera, seq=seq, captured_at=at(seq), image=image, fix=fix)
    kp = None
    if keypoints is not None:
        kp = np.zeros((len(objs), 17, 3), dtype=np.float32)
        for i, k in enumerate(keypoints):
            if k is not None:
                kp[i] = k
    dets = Detections(
        xyxy=np.asarray([list(o[2]) for o in objs], dtype=np.float32).reshape(-1, 4),
        confidence=np.asarray([o[3] for o in objs], dtype=np.float32),
        class_id=np.zeros(len(objs), dtype=np.int32),
        class_name=tuple(o[1] for o in objs),
        track_id=np.asarray([o[0] for o in objs], dtype=np.int64),
        keypoints=kp,
    )
    return TrackedFrame(frame=frame, detections=dets)


def person(track_id: int = 1, box: Sequence[float] = SITTING_BOX, conf: float = 0.8) -> Obj:
    return (track_id, "person", box, conf)


def moved(box: Sequence[float], dx: float, dy: float = 0.0) -> tuple[float, float, float, float]:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def fix_at(lat: float, lon: float, seq: int) -> GpsFix:
    return GpsFix(lat=lat, lon=lon, time=at(seq))
