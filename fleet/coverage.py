"""Coverage as pure functions over a track (no Redis, no clock): the grids and street cells a car passed through.

* grids: the leaf grids of the map (level 3, or a community not divided into grids) that a fix, or the straight
  line between two fixes at most ``max_gap_s`` apart, passed through, with the first time;
* street cells: square cells of ``cell_m`` (``fleet.coverage_cell_m``, 50 m) on a lattice fixed to the earth, that
  the same fixes and lines passed through. These are the "streets covered": a car only drives on streets, so its
  cells are the streets it drove, at 50 m resolution, without a street map (none exists offline).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from geo.distance import EARTH_RADIUS_M
from geo.grids import Locator
from gridwatch.types import GpsFix

M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0
MAX_STEPS_PER_SEGMENT = 10_000  # a line between two fixes is cut in at most this many steps (bounds the work)


class TrackPoint(NamedTuple):
    """A point of a track: epoch seconds, WGS-84 degrees."""

    t: float
    lat: float
    lon: float


def point_of(fix: GpsFix) -> TrackPoint:
    return TrackPoint(fix.time.timestamp(), fix.lat, fix.lon)


def _distance_m(a: TrackPoint, b: TrackPoint) -> float:
    """Equirectangular distance: exact to well under a metre over the few hundred metres between two fixes."""
    lat0 = math.radians((a.lat + b.lat) / 2)
    return math.hypot((b.lon - a.lon) * math.cos(lat0), b.lat - a.lat) * M_PER_DEG


def densify(track: Sequence[TrackPoint], step_m: float, max_gap_s: float) -> Iterator[TrackPoint]:
    """The time-sorted ``track`` with points added every ``step_m`` along the line between consecutive fixes.

    Two fixes more than ``max_gap_s`` apart are not joined (the car may have gone anywhere in between).
    """
    prev: TrackPoint | None = None
    for p in track:
        if prev is not None and 0 < p.t - prev.t <= max_gap_s:
            steps = min(MAX_STEPS_PER_SEGMENT, math.ceil(_distance_m(prev, p) / step_m))
            for k in range(1, steps):
                f = k / steps
                yield TrackPoint(prev.t + (p.t - prev.t) * f, prev.lat + (p.lat - prev.lat) * f,
                                 prev.lon + (p.lon - prev.lon) * f)
        yield p
        prev = p


def _cell_deg(cell_m: float) -> float:
    return cell_m / M_PER_DEG


def cell_of(lat: float, lon: float, cell_m: float) -> str:
    """The street cell ``"row:col"`` holding (lat, lon): rows ``cell_m`` of latitude, columns ``cell_m`` wide
    at the row's middle latitude (so a cell is square on the ground)."""
    d = _cell_deg(cell_m)
    row = math.floor(lat / d)
    mid = (row + 0.5) * d
    col = math.floor(lon / (d / max(math.cos(math.radians(mid)), 1e-6)))
    return f"{row}:{col}"


def cell_center(cell: str, cell_m: float) -> tuple[float, float]:
    """(lat, lon) of the middle of cell ``"row:col"``."""
    row_s, col_s = cell.split(":")
    d = _cell_deg(cell_m)
    lat = (int(row_s) + 0.5) * d
    width = d / max(math.cos(math.radians(lat)), 1e-6)
    return lat, (int(col_s) + 0.5) * width


def earliest(into: dict[str, float], key: str, t: float) -> None:
    if key not in into or t < into[key]:
        into[key] = t


def covered_cells(track: Sequence[TrackPoint], cell_m: float, max_gap_s: float) -> dict[str, float]:
    """Street cells the track passed through -> the first time (epoch seconds) it was in each."""
    out: dict[str, float] = {}
    for p in densify(sorted(track), cell_m / 2, max_gap_s):
        earliest(out, cell_of(p.lat, p.lon, cell_m), p.t)
    return out


def covered_grids(track: Sequence[TrackPoint], grids: Locator, step_m: float, max_gap_s: float) -> dict[str, float]:
    """Leaf grids the track passed through (points every ``step_m`` along it) -> the first time in each."""
    out: dict[str, float] = {}
    for p in densify(sorted(track), step_m, max_gap_s):
        ref = grids.locate(p.lat, p.lon)
        if ref is not None:
            earliest(out, ref.code, p.t)
    return out


def polylines(track: Sequence[TrackPoint], max_gap_s: float) -> list[list[list[float]]]:
    """The track as ``[[lat, lon], ...]`` pieces, cut where fixes are more than ``max_gap_s`` apart."""
    pieces: list[list[list[float]]] = []
    prev: TrackPoint | None = None
    for p in track:
        if prev is None or p.t - prev.t > max_gap_s:
            pieces.append([])
        pieces[-1].append([p.lat, p.lon])
        prev = p
    return pieces


def track_length_m(track: Sequence[TrackPoint], max_gap_s: float) -> float:
    """Metres driven along the track, gaps longer than ``max_gap_s`` not counted."""
    return sum(_distance_m(a, b) for a, b in zip(track, track[1:], strict=False) if b.t - a.t <= max_gap_s)


def thin(track: Sequence[TrackPoint], max_points: int) -> list[TrackPoint]:
    """At most ``max_points`` of ``track``, evenly spread, the first and the last kept."""
    if len(track) <= max_points or max_points < 2:
        return list(track)
    step = (len(track) - 1) / (max_points - 1)
    return [track[round(i * step)] for i in range(max_points)]
