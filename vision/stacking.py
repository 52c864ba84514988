"""Two wide frames in one square model input: the letterbox padding put to use.

A 16:9 frame letterboxed into the detector's square input (640x640) leaves 44% of it grey. Stacked one above
the other, two such frames fill it: the network runs once for both, so a worker that batches cameras analyses
twice the frames per inference. The price is scale: each frame is shrunk to fit half the height (1280x720 ->
569x320 instead of 640x360 alone), objects are ~11% smaller. YOLO is trained on mosaics of unrelated pictures,
so two cameras' scenes side by side do not confuse it. Pure functions; the detector decides when to stack.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.types import Detections

PAD_VALUE = 114  # Ultralytics' letterbox grey
# Frames at least this much wider than tall are worth stacking (16:9 = 1.78; 4:3 = 1.33 would lose too much).
MIN_ASPECT = 1.5
# A box cut by the seam keeps at least this fraction of its area on its own half, else it is dropped.
MIN_KEPT = 0.5


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one frame went in the canvas: its scale and its top-left corner and size there."""

    scale: float
    x: int
    y: int
    width: int
    height: int


def stackable(image: npt.NDArray[np.uint8]) -> bool:
    h, w = image.shape[:2]
    return h > 0 and w / h >= MIN_ASPECT


def stack(top: npt.NDArray[np.uint8], bottom: npt.NDArray[np.uint8],
          size: int) -> tuple[npt.NDArray[np.uint8], tuple[Placement, Placement]]:
    """A ``size`` x ``size`` canvas with ``top`` in its upper half and ``bottom`` in its lower half."""
    half = size // 2
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    placed: list[Placement] = []
    for row, image in enumerate((top, bottom)):
        h, w = image.shape[:2]
        scale = min(size / w, half / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        x, y = (size - nw) // 2, row * half + (half - nh) // 2
        canvas[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        placed.append(Placement(scale, x, y, nw, nh))
    return canvas, (placed[0], placed[1])


def unstack(dets: Detections, placements: tuple[Placement, ...]) -> list[Detections]:
    """The canvas's detections split per frame, in each frame's own pixels (keypoints too)."""
    out: list[Detections] = []
    if len(dets) == 0:
        return [dets for _ in placements]
    boxes = dets.xyxy.astype(np.float64)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    for p in placements:
        x2, y2 = p.x + p.width, p.y + p.height
        clipped = boxes.copy()
        clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], p.x, x2)
        clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], p.y, y2)
        kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        # A box belongs to the frame holding most of it; the seam cuts few boxes and rarely in half.
        mine = (kept_area > 0) & (kept_area >= MIN_KEPT * np.maximum(area, 1e-9))
        idx = np.flatnonzero(mine)
        xyxy = np.empty((len(idx), 4), dtype=np.float32)
        xyxy[:, [0, 2]] = (clipped[idx][:, [0, 2]] - p.x) / p.scale
        xyxy[:, [1, 3]] = (clipped[idx][:, [1, 3]] - p.y) / p.scale
        keypoints = None
        if dets.keypoints is not None:
            keypoints = dets.keypoints[idx].copy()
            keypoints[..., 0] = (keypoints[..., 0] - p.x) / p.scale
            keypoints[..., 1] = (keypoints[..., 1] - p.y) / p.scale
        out.append(Detections(
            xyxy=xyxy,
            confidence=dets.confidence[idx],
            class_id=dets.class_id[idx],
            class_name=tuple(dets.class_name[i] for i in idx),
            track_id=dets.track_id[idx],
            keypoints=keypoints,
        ))
    return out
