"""What a rule saw when it took a view of an issue: its features, the person's keypoints, the detections nearby.

Pure helpers for ``vision.vagrant`` and ``vision.stall``. The features are small numbers relative to the box
or the picture (so near and far, big and small frames compare), named per rule; an operator's verdict keeps
them with the snapshot and the verdict filter (``vision.verdict_filter``) learns from them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gridwatch.types import Detections, Evidence, NearbyDetection

Box = tuple[float, float, float, float]

MAX_NEARBY = 12
# Another detection counts as nearby when the gap between the boxes is at most this many box heights.
NEARBY_HEIGHTS = 1.0
POSTURES = ("lying", "sitting", "seated", "standing", "walking", "upright", "unknown")


def _gap(a: Box, b: Box) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float((dx * dx + dy * dy) ** 0.5)


def nearby(dets: Detections, box: Box, skip: Sequence[int] = ()) -> tuple[NearbyDetection, ...]:
    """Detections within ``NEARBY_HEIGHTS`` box heights of ``box`` (not those in ``skip``), surest first."""
    reach = NEARBY_HEIGHTS * max(1.0, box[3] - box[1])
    found: list[NearbyDetection] = []
    for i in range(len(dets)):
        if i in skip:
            continue
        b: Box = (float(dets.xyxy[i][0]), float(dets.xyxy[i][1]), float(dets.xyxy[i][2]), float(dets.xyxy[i][3]))
        if _gap(box, b) <= reach:
            found.append(NearbyDetection(dets.class_name[i], round(float(dets.confidence[i]), 3),
                                         (round(b[0], 1), round(b[1], 1), round(b[2], 1), round(b[3], 1))))
    found.sort(key=lambda n: -n.confidence)
    return tuple(found[:MAX_NEARBY])


def keypoint_tuple(keypoints: npt.NDArray[np.float32] | None) -> tuple[tuple[float, float, float], ...]:
    if keypoints is None:
        return ()
    return tuple((round(float(k[0]), 1), round(float(k[1]), 1), round(float(k[2]), 3)) for k in keypoints)


def _box_shape(box: Box, width: int, height: int) -> list[tuple[str, float]]:
    w, h = max(1.0, box[2] - box[0]), max(1.0, box[3] - box[1])
    return [
        ("aspect", h / w),  # upright people are tall, sitting ones squarer, lying ones wide
        ("height_frac", h / max(1, height)),
        ("foot_y", box[3] / max(1, height)),  # near the bottom: close to the camera
        ("center_x", (box[0] + box[2]) / 2 / max(1, width)),
    ]


def vagrant_evidence(
    dets: Detections, index: int, box: Box, confidence: float, postures: Sequence[str], fall: float,
    speed: float | None, mobile: bool, image_size: tuple[int, int],
) -> Evidence:
    """The vagrant rule's view of person ``index``: posture history, box shape, seats and people around."""
    width, height = image_size
    kp = None if dets.keypoints is None else dets.keypoints[index]
    visible = 0.0 if kp is None else float(np.mean(kp[:, 2] > 0.5))
    around = nearby(dets, box, skip=(index,))
    seats = sum(1 for n in around if n.class_name in ("bench", "chair", "couch"))
    persons = sum(1 for n in around if n.class_name == "person")
    window = max(1, len(postures))
    features: list[tuple[str, float]] = [("confidence", confidence), *_box_shape(box, width, height)]
    features += [(f"posture_{p}", sum(1 for q in postures if q == p) / window) for p in POSTURES]
    features += [
        ("keypoints_visible", visible),
        ("fall", fall),
        ("speed", 0.0 if speed is None else min(speed, 5.0)),
        ("mobile", 1.0 if mobile else 0.0),
        ("seats_near", float(seats)),
        ("persons_near", float(persons)),
        ("objects_near", float(len(around) - seats - persons)),
    ]
    return Evidence(tuple((k, round(float(v), 4)) for k, v in features), keypoint_tuple(kp), around)


def stall_evidence(
    dets: Detections, region: Box, confidence: float, persons: int, goods: Sequence[str], mobile: bool,
    image_size: tuple[int, int],
) -> Evidence:
    """The stall rule's view of a group: its people and goods, the key objects, the region's shape."""
    width, height = image_size
    features: list[tuple[str, float]] = [("confidence", confidence), *_box_shape(region, width, height)]
    features += [
        ("persons", float(persons)),
        ("goods", float(len(goods))),
        ("umbrellas", float(sum(1 for g in goods if g == "umbrella"))),
        ("tables", float(sum(1 for g in goods if g == "dining table"))),
        ("chairs", float(sum(1 for g in goods if g in ("chair", "bench")))),
        ("bags", float(sum(1 for g in goods if g in ("handbag", "backpack", "suitcase")))),
        ("mobile", 1.0 if mobile else 0.0),
    ]
    return Evidence(tuple((k, round(float(v), 4)) for k, v in features), (), nearby(dets, region))
