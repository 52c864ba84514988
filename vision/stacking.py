"""Several wide frames in one square model input: the letterbox padding, then the resolution, put to use.

A 16:9 frame letterboxed into the detector's square input (640x640) leaves 44% of it grey. Stacked one above
the other, two such frames fill it: the network runs once for both, so a worker that batches cameras analyses
twice the frames per inference. The price is scale: each frame is shrunk to fit half the height (1280x720 ->
569x320 instead of 640x360 alone), objects are ~11% smaller. When even that is too slow, three frames go one
above the other (379x213, objects 41% smaller) or six in a 2x3 grid (320x180, half the size): three and six
times the frames per inference. YOLO is trained on mosaics of unrelated pictures, so several cameras' scenes
side by side do not confuse it. Pure functions; the detector stacks, the worker's controller says how many
(``vision.load_control``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.types import Detections

PAD_VALUE = 114  # Ultralytics' letterbox grey
# Frames at least this much wider than tall are worth stacking (16:9 = 1.78; 4:3 = 1.33 would lose too much).
MIN_ASPECT = 1.5
# A box cut by a seam keeps at least this fraction of its area in its own cell, else it is dropped.
MIN_KEPT = 0.5
# Frames per model input -> (rows, columns) of the grid. For 16:9 frames in a square these waste least: 4 frames
# (2x2) would be no larger than 6 (2x3), and 4 or 5 in one column would be smaller still.
LAYOUTS: dict[int, tuple[int, int]] = {1: (1, 1), 2: (2, 1), 3: (3, 1), 6: (3, 2)}
FRAMES_PER_INPUT = tuple(sorted(LAYOUTS))


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


def capacity(n: int) -> int:
    """The smallest layout that holds ``n`` frames (its unused cells stay grey)."""
    for k in FRAMES_PER_INPUT:
        if k >= n:
            return k
    raise ValueError(f"at most {FRAMES_PER_INPUT[-1]} frames fit one model input, not {n}")


def stack(images: Sequence[npt.NDArray[np.uint8]], size: int) -> tuple[npt.NDArray[np.uint8], tuple[Placement, ...]]:
    """A ``size`` x ``size`` canvas holding ``images`` row by row in the grid of ``capacity(len(images))``."""
    rows, cols = LAYOUTS[capacity(len(images))]
    cell_w, cell_h = size // cols, size // rows
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    placed: list[Placement] = []
    for n, image in enumerate(images):
        row, col = divmod(n, cols)
        h, w = image.shape[:2]
        scale = min(cell_w / w, cell_h / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        x, y = col * cell_w + (cell_w - nw) // 2, row * cell_h + (cell_h - nh) // 2
        # Bilinear, as Ultralytics' own letterbox resizes a frame alone: what the model is used to, and 4-15x
        # cheaper than INTER_AREA at these non-integer scales (4-6 ms of CPU per 720p frame, BENCHMARKS.md).
        canvas[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        placed.append(Placement(scale, x, y, nw, nh))
    return canvas, tuple(placed)


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
