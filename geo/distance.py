"""Distances on the earth for case dedup: haversine metres and a cheap latitude/longitude box around a point."""
from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (accurate to ~0.5 % at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box that holds every point within ``radius_m`` of (lat, lon).

    An index range on latitude then longitude narrows candidates before the exact haversine check.
    """
    dlat = radius_m / _M_PER_DEG_LAT
    # Near the poles a degree of longitude shrinks to nothing; cap so the box stays a valid range.
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, dlat / cos_lat)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def cell_keys(lat: float, lon: float, radius_m: float, cell_deg: float = 0.01) -> list[tuple[int, int]]:
    """The cells of a ``cell_deg`` lattice that the box around (lat, lon) touches (for lock keys)."""
    lat0, lat1, lon0, lon1 = bounding_box(lat, lon, radius_m)
    return [
        (i, j)
        for i in range(math.floor(lat0 / cell_deg), math.floor(lat1 / cell_deg) + 1)
        for j in range(math.floor(lon0 / cell_deg), math.floor(lon1 / cell_deg) + 1)
    ]
