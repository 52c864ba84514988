"""Where the patrol car was when a frame was captured: simulated routes for the demo and tests.

A ``GpsSource`` is any callable ``(capture time) -> GpsFix | None``; the reader calls it once per frame
handed to vision. Real cars report fixes through the fleet's receivers (``fleet.telemetry``; ``ingest.gps``'s
``TrackGpsSource`` interpolates them); here a car drives a closed polyline at constant speed, for ever
(``python -m demo.simulate_car`` sends this route's fixes to the receivers like a real car).
"""
from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from geo.distance import EARTH_RADIUS_M
from gridwatch.settings import CameraSettings
from gridwatch.types import GpsFix

GpsSource = Callable[[datetime], GpsFix | None]

# Closed patrol loops as (lat, lon) in WGS-84. Street names are approximate; positions were chosen to run
# along the main roads of Jinshui district, Zhengzhou, inside the demo grid map (lat 34.770..34.800,
# lon 113.660..113.720) and crossing many of its cells.
ROUTES: dict[str, list[tuple[float, float]]] = {
    "jinshui-demo": [
        (34.7800, 113.6790),  # Huayuan Rd x Huanghe Rd, heading north on Huayuan Rd
        (34.7870, 113.6790),  # Huayuan Rd x Nongye Rd
        (34.7960, 113.6790),  # Huayuan Rd x Dongfeng Rd, turn east
        (34.7960, 113.6920),  # Dongfeng Rd
        (34.7960, 113.7030),  # Dongfeng Rd x Weilai Rd, turn south
        (34.7870, 113.7030),  # Weilai Rd x Nongye Rd
        (34.7800, 113.7030),  # Weilai Rd x Huanghe Rd
        (34.7740, 113.7030),  # Weilai Rd, turn west
        (34.7740, 113.6880),  # Jinshui Rd (north side)
        (34.7740, 113.6720),  # Jingsan Rd, turn north
        (34.7800, 113.6720),  # Jingsan Rd x Huanghe Rd, turn east back to Huayuan Rd
    ],
}


def _utc(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {t.isoformat()}")
    return t.astimezone(UTC)


class SimulatedRoute:
    """A car driving ``points`` (lat, lon) at ``speed_mps``, back to the first point and round again.

    The car is at ``points[0]`` at ``start`` (default: when the route is made); times before ``start``
    are valid too (the loop is periodic).
    """

    def __init__(
        self, points: list[tuple[float, float]], speed_mps: float = 8.0, start: datetime | None = None,
        leg_seconds: Sequence[float] | None = None,
    ) -> None:
        """``leg_seconds``: the time of each leg (points[i] -> points[i+1], the last one back to points[0])
        instead of one speed for all: a car that slows down where it has something to look at (the demo lap)."""
        if len(points) < 2:
            raise ValueError(f"a route needs at least 2 points, got {len(points)}")
        if not speed_mps > 0:
            raise ValueError(f"route speed must be > 0 m/s, got {speed_mps}")
        for lat, lon in points:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"route point ({lat}, {lon}) is not a WGS-84 (lat, lon)")
        if leg_seconds is not None and (len(leg_seconds) != len(points) or not all(s > 0 for s in leg_seconds)):
            raise ValueError(f"leg_seconds needs one positive time per leg ({len(points)}), got {list(leg_seconds)}")
        self.points = list(points)
        self.start = _utc(start, "route start") if start is not None else datetime.now(UTC)
        loop = self.points + [self.points[0]]
        # Equirectangular projection around the route's mean latitude: exact enough for a city (< 0.1 %).
        self._lat0 = math.radians(sum(p[0] for p in self.points) / len(self.points))
        # (from, to, length m, heading, seconds) per leg, and each leg's start time within the lap.
        self._segments: list[tuple[tuple[float, float], tuple[float, float], float, float, float]] = []
        self._starts: list[float] = []
        total = elapsed = 0.0
        for n, (a, b) in enumerate(itertools.pairwise(loop)):
            east, north = self._metres(a, b)
            length = math.hypot(east, north)
            if length == 0:
                if leg_seconds is not None:
                    raise ValueError(f"leg {n} of a timed route has no length")
                continue  # repeated point (e.g. an explicitly closed ring)
            seconds = leg_seconds[n] if leg_seconds is not None else length / speed_mps
            heading = math.degrees(math.atan2(east, north)) % 360
            self._segments.append((a, b, length, heading, seconds))
            self._starts.append(elapsed)
            total += length
            elapsed += seconds
        if total == 0:
            raise ValueError("all route points are the same place")
        self.length_m = total
        self._lap_seconds = elapsed
        self.speed_mps = total / elapsed  # the mean speed (the speed of every leg unless leg_seconds)

    def _metres(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        east = math.radians(b[1] - a[1]) * math.cos(self._lat0) * EARTH_RADIUS_M
        north = math.radians(b[0] - a[0]) * EARTH_RADIUS_M
        return east, north

    @property
    def lap_seconds(self) -> float:
        return self._lap_seconds

    @property
    def leg_lengths_m(self) -> list[float]:
        """Length of each leg in metres, in driving order."""
        return [seg[2] for seg in self._segments]

    def lap_offset(self, t: datetime) -> float:
        """Seconds since the car last left ``points[0]`` at ``t``."""
        return (_utc(t, "fix time") - self.start).total_seconds() % self._lap_seconds

    def fix_at(self, t: datetime) -> GpsFix:
        """Position, heading (degrees from north) and speed at ``t`` (timezone-aware)."""
        t = _utc(t, "fix time")
        elapsed = self.lap_offset(t)
        i = max(0, bisect.bisect_right(self._starts, elapsed) - 1)
        a, b, length, heading, seconds = self._segments[i]
        f = min(1.0, (elapsed - self._starts[i]) / seconds)
        return GpsFix(
            lat=a[0] + (b[0] - a[0]) * f,
            lon=a[1] + (b[1] - a[1]) * f,
            time=t,
            heading=heading,
            speed=length / seconds,
        )

    __call__ = fix_at  # a route is itself a GpsSource


# Named routes start from one fixed instant, so every part that drives the same route (the demo camera's
# frames, the demo car's telemetry on the wall) agrees where the car is at any moment.
ROUTE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


# Routes made at run time (the demo lap, whose leg times follow its clip): by name, as they are.
_MADE: dict[str, SimulatedRoute] = {}


def register_route(name: str, made: SimulatedRoute) -> None:
    """Make ``made`` the route called ``name`` in this process (a camera's ``gps_route`` may name it)."""
    if name in ROUTES:
        raise ValueError(f"route {name!r} is a built-in route")
    _MADE[name] = made


def route(name: str, speed_mps: float = 8.0, start: datetime | None = None) -> SimulatedRoute:
    """The named simulated route (at its first point at ``start``, default ``ROUTE_EPOCH``, and every lap after);
    a registered route as it was made. KeyError naming the known routes if there is none by that name."""
    if name in _MADE:
        return _MADE[name]
    try:
        points = ROUTES[name]
    except KeyError:
        known = ", ".join(sorted([*ROUTES, *_MADE]))
        raise KeyError(f"unknown GPS route {name!r}; known routes: {known}") from None
    return SimulatedRoute(points, speed_mps=speed_mps, start=start or ROUTE_EPOCH)


def fixed_position(lat: float, lon: float) -> GpsSource:
    """A camera that does not move (a pole camera with ``lat``/``lon`` in its settings)."""

    def source(t: datetime) -> GpsFix:
        return GpsFix(lat=lat, lon=lon, time=_utc(t, "fix time"), heading=None, speed=0.0)

    return source


def gps_source_for(camera: CameraSettings) -> GpsSource | None:
    """The GPS source a camera's settings describe: its simulated route, its fixed position, or none."""
    if camera.gps_route is not None:
        return route(camera.gps_route)
    if camera.lat is not None and camera.lon is not None:
        return fixed_position(camera.lat, camera.lon)
    return None
