"""Frames of many cameras -> one detector call -> per-camera tracking -> pose for doubtful persons -> rules.

Shared by the live worker (``vision.worker``) and offline analysis (``vision.analyze``), so both see the
same detections, tracks and events. The detector is called once per batch whatever the cameras; so is the
pose model (person crops of all cameras share its mosaics).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from gridwatch.settings import RulesSettings, VisionSettings
from gridwatch.types import Detections, Frame, IssueEvent, TrackedFrame
from vision.fall import FallBox, FallSchedule, add_missed, fall_detector, has_candidate, mark
from vision.motion import PathPoint, extend, speed
from vision.pose import PoseEstimator, PoseRequest
from vision.rules import FORGET_AFTER, PERSON
from vision.ruleset import CameraRules
from vision.yolo import Detector, Tracker, make_tracker
from vision.zones import CameraView

log = logging.getLogger(__name__)

KEYPOINTS = 17


class CameraPipeline:
    """One camera's tracker and rules; used by one thread at a time."""

    def __init__(self, view: CameraView, vision: VisionSettings, rules: RulesSettings, fps: float,
                 tracker: str | None = None) -> None:
        self.view = view
        self.camera_id = view.camera_id
        name = tracker or (vision.mobile_tracker if view.mobile else vision.tracker)
        self.tracker: Tracker = make_tracker(vision.model_copy(update={"tracker": name}), fps)
        self.rules = CameraRules(view, rules, vision.class_categories)
        self.last_seq = -1
        self._paths: dict[int, tuple[PathPoint, ...]] = {}
        self._poses: dict[int, _PoseMemory] = {}
        self.fall_schedule = FallSchedule()

    def finish(self) -> list[IssueEvent]:
        return self.rules.finish()

    def plan_pose(self, dets: Detections, now: datetime, vision: VisionSettings,
                  rules: RulesSettings) -> tuple[list[int], dict[int, np.ndarray]]:
        """Which persons to pose now, and keypoints carried over (moved with the box) for the others.

        Pose is the costly part of the vagrant rule, so it runs only for persons whose box shape leaves the
        posture open, who (on a fixed camera) are not walking, who were not posed in the last
        ``pose_interval_seconds`` and who are not reported as vagrants already.
        """
        ask: list[int] = []
        carried: dict[int, np.ndarray] = {}
        interval = timedelta(seconds=vision.pose_interval_seconds)
        seen: set[int] = set()
        reported = self.rules.reported_persons()
        for i in pose_candidates(dets, vision, rules):
            tid = int(dets.track_id[i])
            box = (float(dets.xyxy[i, 0]), float(dets.xyxy[i, 1]), float(dets.xyxy[i, 2]), float(dets.xyxy[i, 3]))
            seen.add(tid)
            self._paths[tid] = extend(self._paths.get(tid, ()), now, box)
            if not self.view.mobile:
                v = speed(self._paths[tid])
                if v is None or v >= rules.still_max_speed:
                    continue
            mem = self._poses.get(tid)
            if mem is not None and (tid in reported or now - mem.at < interval):
                carried[i] = mem.moved_to(box)
            else:
                ask.append(i)
        for tid in [t for t, p in self._paths.items() if t not in seen and now - p[-1][0] > FORGET_AFTER]:
            self._paths.pop(tid, None)
            self._poses.pop(tid, None)
        return ask, carried

    def remember_pose(self, track_id: int, now: datetime, box: tuple[float, float, float, float],
                      keypoints: np.ndarray) -> None:
        self._poses[track_id] = _PoseMemory(now, box, keypoints)


@dataclass(frozen=True, slots=True)
class _PoseMemory:
    at: datetime
    box: tuple[float, float, float, float]
    keypoints: np.ndarray

    def moved_to(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """The keypoints mapped from the old box onto the new one (the person moved or the camera did)."""
        ox1, oy1, ox2, oy2 = self.box
        sx = (box[2] - box[0]) / max(1e-6, ox2 - ox1)
        sy = (box[3] - box[1]) / max(1e-6, oy2 - oy1)
        kp = self.keypoints.copy()
        kp[:, 0] = (kp[:, 0] - ox1) * sx + box[0]
        kp[:, 1] = (kp[:, 1] - oy1) * sy + box[1]
        return kp


@dataclass
class StageTimes:
    """Seconds spent per stage (summed over batches), for the worker's stats and the benchmarks."""

    detect: float = 0.0
    track: float = 0.0
    pose: float = 0.0
    rules: float = 0.0
    fall: float = 0.0  # the second, fall/lying model (vision.fall)
    batches: int = 0
    frames: int = 0
    pose_crops: int = 0
    fall_frames: int = 0

    def add(self, other: StageTimes) -> None:
        for name in ("detect", "track", "pose", "rules", "fall"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.batches += other.batches
        self.frames += other.frames
        self.pose_crops += other.pose_crops
        self.fall_frames += other.fall_frames


@dataclass
class FrameResult:
    pipeline: CameraPipeline
    frame: Frame
    detections: Detections  # tracked, with keypoints where pose ran
    events: list[IssueEvent] = field(default_factory=list)
    seen: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)  # CameraRules.seen


def pose_candidates(dets: Detections, vision: VisionSettings, rules: RulesSettings) -> list[int]:
    """Indices of tracked persons whose posture the box cannot settle (not clearly upright)."""
    if len(dets) == 0:
        return []
    w = dets.xyxy[:, 2] - dets.xyxy[:, 0]
    h = dets.xyxy[:, 3] - dets.xyxy[:, 1]
    names = np.asarray(dets.class_name, dtype=object)
    doubtful = (names == PERSON) & (dets.track_id >= 0) & (h >= rules.min_box_height) & (h < vision.pose_max_aspect * w)
    return [int(i) for i in np.flatnonzero(doubtful)]


def _with_keypoints(dets: Detections, rows: dict[int, np.ndarray]) -> Detections:
    kp = np.zeros((len(dets), KEYPOINTS, 3), dtype=np.float32)
    for i, k in rows.items():
        kp[i] = k
    return Detections(xyxy=dets.xyxy, confidence=dets.confidence, class_id=dets.class_id,
                      class_name=dets.class_name, track_id=dets.track_id, keypoints=kp)


def _look_for_falls(detector: Detector, items: list[tuple[CameraPipeline, Frame]], all_dets: list[Detections],
                    vision: VisionSettings, rules: RulesSettings) -> list[list[FallBox] | None]:
    """Run the fall model (``vision.fall``) on the frames due for it; people it finds lying that the detector
    missed are added to ``all_dets`` (in place) as persons. None for a frame it did not look at."""
    falls: list[list[FallBox] | None] = [None] * len(items)
    fall = fall_detector(vision) if "vagrant" in rules.enabled else None
    if fall is None:
        return falls
    due = [n for n, ((pipe, frame), dets) in enumerate(zip(items, all_dets, strict=True))
           if pipe.fall_schedule.due(frame.captured_at, has_candidate(dets, vision, rules.min_box_height),
                                     vision.fall_interval_seconds)]
    person_id = next((k for k, v in detector.names.items() if v == PERSON), 0)
    for n, boxes in zip(due, fall.detect([items[n][1].image for n in due]), strict=True):
        pipe, frame = items[n]
        pipe.fall_schedule.looked(frame.captured_at, bool(boxes))
        falls[n] = boxes
        all_dets[n] = add_missed(all_dets[n], boxes, person_id)
    return falls


def process_batch(
    detector: Detector,
    pose: PoseEstimator | None,
    items: list[tuple[CameraPipeline, Frame]],
    vision: VisionSettings,
    rules: RulesSettings,
    per_input: int = 1,
) -> tuple[list[FrameResult], StageTimes]:
    """Detect all frames in one call, track each on its camera, add keypoints, apply each camera's rules.

    Frames of one camera must come in capture order across calls (its tracker and rules are stateful);
    ``per_input`` frames share a model input (``Detector.detect_batch``).
    """
    times = StageTimes(batches=1, frames=len(items))
    if not items:
        return [], times
    t0 = time.perf_counter()
    all_dets = detector.detect_batch([frame.image for _, frame in items], per_input)
    t1 = time.perf_counter()
    falls = _look_for_falls(detector, items, all_dets, vision, rules)
    times.fall, times.fall_frames = time.perf_counter() - t1, sum(f is not None for f in falls)
    t1 = time.perf_counter()
    tracked = [pipe.tracker.update(dets, frame.image) for (pipe, frame), dets in zip(items, all_dets, strict=True)]
    t2 = time.perf_counter()
    if pose is not None and "vagrant" in rules.enabled:
        requests: list[PoseRequest] = []
        owners: list[tuple[int, int]] = []
        per_frame: dict[int, dict[int, np.ndarray]] = {}
        for n, ((pipe, frame), dets) in enumerate(zip(items, tracked, strict=True)):
            if dets.keypoints is not None:
                continue  # a pose model as the detector has given them already
            ask, carried = pipe.plan_pose(dets, frame.captured_at, vision, rules)
            if carried:
                per_frame[n] = dict(carried)
            for i in ask:
                x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
                requests.append(PoseRequest(frame.image, (x1, y1, x2, y2)))
                owners.append((n, i))
        if requests:
            for (n, i), kp in zip(owners, pose.estimate(requests), strict=True):
                if kp is None:
                    continue
                pipe, frame = items[n]
                dets = tracked[n]
                box = (float(dets.xyxy[i, 0]), float(dets.xyxy[i, 1]), float(dets.xyxy[i, 2]), float(dets.xyxy[i, 3]))
                pipe.remember_pose(int(dets.track_id[i]), frame.captured_at, box, kp)
                per_frame.setdefault(n, {})[i] = kp
            times.pose_crops = len(requests)
        tracked = [_with_keypoints(d, per_frame[n]) if n in per_frame else d for n, d in enumerate(tracked)]
    tracked = [d if f is None else mark(d, f) for d, f in zip(tracked, falls, strict=True)]
    t3 = time.perf_counter()
    results: list[FrameResult] = []
    for (pipe, frame), dets in zip(items, tracked, strict=True):
        events = pipe.rules.step(TrackedFrame(frame=frame, detections=dets), frame.captured_at)
        pipe.last_seq = frame.seq
        seen = pipe.rules.seen() + [(e.category, e.bbox) for e in events]
        results.append(FrameResult(pipe, frame, dets, events, seen))
    t4 = time.perf_counter()
    times.detect, times.track, times.pose, times.rules = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    return results, times
