"""Pose keypoints for chosen persons, several per model call: person crops tiled into one mosaic.

Why crops and not the whole frame: a nano pose model run on a whole street view misses people 30-100 px tall
(on ``streetview_people_sitting_park.jpg`` it finds 2 of ~11 at any input size, the export being fixed at
640), while the same people cropped and enlarged give clean keypoints. Tiling the crops into a grid fills
one fixed-size input with up to ``grid**2`` people, from any cameras, so the cost is one inference per
``grid**2`` candidates instead of one per person or per frame.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.settings import VisionSettings
from gridwatch.types import Detections

log = logging.getLogger(__name__)

# Context kept around each person box (fraction of its width/height per side): the pose model needs to see
# where the body ends.
CROP_MARGIN = 0.25
PAD_VALUE = 114  # Ultralytics' letterbox grey


@dataclass(frozen=True, slots=True)
class PoseRequest:
    """One person to estimate: the frame it is in and its box there."""

    image: npt.NDArray[np.uint8]
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class _Cell:
    """Where one crop went: its origin in the source frame and in the mosaic, its scale, its cell."""

    src_x: float
    src_y: float
    dst_x: float
    dst_y: float
    scale: float
    cell: tuple[int, int, int, int]  # the cell's x1, y1, x2, y2 in the mosaic
    target: tuple[float, float, float, float]  # the person's box in mosaic pixels


def _crop_box(xyxy: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = xyxy
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    return (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(width, int(np.ceil(x2 + mx))),
            min(height, int(np.ceil(y2 + my))))


def build_mosaic(
    requests: list[PoseRequest], grid: int, size: int
) -> tuple[npt.NDArray[np.uint8], list[_Cell]]:
    """A ``size`` x ``size`` BGR mosaic with up to ``grid**2`` person crops, each scaled to fit its cell."""
    if not 1 <= len(requests) <= grid * grid:
        raise ValueError(f"a {grid}x{grid} mosaic holds 1..{grid * grid} crops, got {len(requests)}")
    side = size // grid
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    cells: list[_Cell] = []
    for n, req in enumerate(requests):
        h, w = req.image.shape[:2]
        cx1, cy1, cx2, cy2 = _crop_box(req.xyxy, w, h)
        crop = req.image[cy1:cy2, cx1:cx2]
        if crop.size == 0:
            raise ValueError(f"person box {req.xyxy} lies outside its {w}x{h} frame")
        scale = side / max(crop.shape[0], crop.shape[1])
        new_w, new_h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(crop, (new_w, new_h), interpolation=interp)
        row, col = divmod(n, grid)
        # Centred in its cell, so a crop never touches a neighbour's pixels.
        dx, dy = col * side + (side - new_w) // 2, row * side + (side - new_h) // 2
        canvas[dy:dy + new_h, dx:dx + new_w] = resized
        x1, y1, x2, y2 = req.xyxy
        target = ((x1 - cx1) * scale + dx, (y1 - cy1) * scale + dy, (x2 - cx1) * scale + dx, (y2 - cy1) * scale + dy)
        cell = (col * side, row * side, (col + 1) * side, (row + 1) * side)
        cells.append(_Cell(float(cx1), float(cy1), float(dx), float(dy), scale, cell, target))
    return canvas, cells


def _iou(a: tuple[float, float, float, float], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0), dtype=np.float64)


def assign(poses: Detections, cells: list[_Cell], min_iou: float = 0.3) -> list[npt.NDArray[np.float32] | None]:
    """Keypoints (17, 3) in source-frame pixels for each cell's person, or None when no pose matches it.

    A crop may show neighbours too; the pose whose box overlaps the requested person's box most is theirs.
    """
    if poses.keypoints is None or len(poses) == 0:
        return [None] * len(cells)
    centres = (poses.xyxy[:, :2] + poses.xyxy[:, 2:]) / 2
    out: list[npt.NDArray[np.float32] | None] = []
    for c in cells:
        x1, y1, x2, y2 = c.cell
        inside = (centres[:, 0] >= x1) & (centres[:, 0] < x2) & (centres[:, 1] >= y1) & (centres[:, 1] < y2)
        ious = np.where(inside, _iou(c.target, poses.xyxy), 0.0)
        best = int(np.argmax(ious))
        if ious[best] < min_iou:
            out.append(None)
            continue
        kp = poses.keypoints[best].astype(np.float32, copy=True)
        # Mosaic pixels -> crop pixels -> source-frame pixels.
        kp[:, 0] = (kp[:, 0] - c.dst_x) / c.scale + c.src_x
        kp[:, 1] = (kp[:, 1] - c.dst_y) / c.scale + c.src_y
        out.append(kp)
    return out


class PoseEstimator:
    """A pose model run on mosaics of person crops; ``estimate`` keeps the order of its requests."""

    def __init__(self, settings: VisionSettings) -> None:
        from vision.yolo import Detector, ModelError  # deferred: importing vision.yolo loads Ultralytics

        if settings.pose_model is None:
            raise ValueError("vision.pose_model is unset; nothing to estimate poses with")
        pose_settings = settings.model_copy(
            update={"model": settings.pose_model, "confidence": settings.pose_confidence, "imgsz": settings.pose_imgsz}
        )
        self._detector = Detector(pose_settings)
        if self._detector.task != "pose":
            raise ModelError(f"vision.pose_model {settings.pose_model} is a {self._detector.task!r} model, "
                             "not a pose model (expected e.g. yolov8n-pose)")
        self.grid = settings.pose_grid
        self.size = settings.pose_imgsz
        self.calls = 0

    def estimate(self, requests: list[PoseRequest]) -> list[npt.NDArray[np.float32] | None]:
        """Keypoints for each requested person (None where the model found no matching pose)."""
        per = self.grid * self.grid
        mosaics: list[npt.NDArray[np.uint8]] = []
        layouts: list[list[_Cell]] = []
        for start in range(0, len(requests), per):
            canvas, cells = build_mosaic(requests[start:start + per], self.grid, self.size)
            mosaics.append(canvas)
            layouts.append(cells)
        out: list[npt.NDArray[np.float32] | None] = []
        if not mosaics:
            return out
        self.calls += len(mosaics)
        for poses, cells in zip(self._detector.detect_batch(mosaics), layouts, strict=True):
            out.extend(assign(poses, cells))
        return out
