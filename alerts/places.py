"""Pure rules of place: is this the same spot in a fixed camera's picture, which snapshot is better, and does a
moving camera at a GPS position and heading have a case's place in view. No database, no clock.
"""
from __future__ import annotations

import math

from geo.distance import haversine_m

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


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def angle_between(a: float, b: float) -> float:
    """The smaller angle between two bearings, 0..180 degrees."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


def in_view(
    cam_lat: float, cam_lon: float, heading: float | None, place_lat: float, place_lon: float, *,
    range_m: float, fov_deg: float, facing_deg: float = 0.0,
) -> bool:
    """Does a moving camera at (cam_lat, cam_lon), its car heading ``heading`` (degrees from north) and the
    camera turned ``facing_deg`` from it, have the place within ``range_m`` and inside its ``fov_deg`` view?

    Without a heading the direction is unknown: only a place within a few metres (the car on it) counts.
    """
    distance = haversine_m(cam_lat, cam_lon, place_lat, place_lon)
    if distance > range_m:
        return False
    if distance < 3.0 or fov_deg >= 360.0:
        return True  # standing on the place: whatever the direction, the camera sees it (GPS error is ~this)
    if heading is None:
        return False
    looking = (heading + facing_deg) % 360.0
    return angle_between(looking, bearing_deg(cam_lat, cam_lon, place_lat, place_lon)) <= fov_deg / 2.0
