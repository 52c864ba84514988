"""What a moving camera sees: the bearing from a GPS position to a place, and whether a camera on a car heading
somewhere, turned some degrees from it with some field of view, has the place in view. Pure: no database, no clock.
"""
from __future__ import annotations

import math

from geo.distance import haversine_m


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
