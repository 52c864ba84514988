"""Pure rules of place in a picture: is this the same spot in a fixed camera's picture, and which snapshot is better.
No database, no clock. Whether a moving camera has a case's place in view is geography: ``geo.sight.in_view``.
"""
from __future__ import annotations

import math

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in snapshot pixels

SPOT_REACH = 0.75  # centres this many box sizes apart are still the same spot (a person shifting, a stall growing)


def box_center(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def same_spot(a: Box, b: Box, reach: float = SPOT_REACH) -> bool:
    """Do two boxes of one fixed camera show the same spot? Their centres lie within ``reach`` times the larger
    box side of each other: one sitter who moved a little is one spot, two stalls side by side are two."""
    (ax, ay), (bx, by) = box_center(a), box_center(b)
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
    return math.hypot(ax - bx, ay - by) <= reach * size


def snapshot_score(confidence: float | None, box: Box | None) -> float | None:
    """How good a sighting's snapshot is for an operator: more confident and larger wins (confidence times the
    box's linear size, so a box twice as wide counts like doubled confidence). None when there is no box."""
    if confidence is None or box is None:
        return None
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    return float(confidence) * math.sqrt(area)


def better_snapshot(new: float | None, old: float | None) -> bool:
    """Does a snapshot of score ``new`` replace one of score ``old``? Unscored never beats scored."""
    if new is None:
        return old is None
    return old is None or new > old
