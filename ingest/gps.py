"""Vehicles' GPS tracks in Redis and the position of every frame: what a camera reader needs of a car's GPS.

* ``TelemetryStore``: a sorted set per vehicle (members = fix JSON, score = fix time) trimmed to
  ``ingest.telemetry_track_seconds``, plus the vehicle's newest fix, which outlives the track. The fleet's
  receivers (``fleet.telemetry``) validate what the cars send and store it here.
* ``TrackGpsSource(store, vehicle_id)``: the reader's ``gps`` callable; the position at a frame's capture
  time, interpolated between the two fixes around it (a short dead-reckoning past the newest one, since fixes
  arrive later than frames). It reads Redis at most every ``refresh_seconds``; each frame costs a bisect.
"""
from __future__ import annotations

import bisect
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import redis

from geo.distance import EARTH_RADIUS_M
from geo.routes import GpsSource, gps_source_for
from gridwatch import keys
from gridwatch.protocol import VEHICLE_ID_PATTERN
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import GpsFix

log = logging.getLogger(__name__)

VEHICLE_ID = re.compile(VEHICLE_ID_PATTERN)  # a car's id as the car<->centre protocol defines it
LAST_FIX_TTL_S = 7 * 86_400
DEAD_RECKON_MAX_S = 3.0
ERROR_LOG_EVERY_S = 30.0

_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 't')
if (not cur) or tonumber(cur) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'fix', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class TelemetryError(ValueError):
    """A fix or message that cannot be accepted; the message says which field and why."""


class StoreUnavailable(RuntimeError):
    """Redis does not answer: the fixes were not stored (the sender should retry)."""


def fix_to_json(fix: GpsFix) -> str:
    return json.dumps({"lat": fix.lat, "lon": fix.lon, "time": fix.time.isoformat(), "heading": fix.heading,
                       "speed": fix.speed}, separators=(",", ":"))


def fix_from_json(text: str | bytes) -> GpsFix:
    d = json.loads(text)
    return GpsFix(lat=float(d["lat"]), lon=float(d["lon"]), time=datetime.fromisoformat(d["time"]),
                  heading=d.get("heading"), speed=d.get("speed"))


def check_vehicle_id(vehicle_id: str) -> str:
    if not VEHICLE_ID.match(vehicle_id):
        raise TelemetryError(f"vehicle id {vehicle_id!r} is not valid (letters, digits, . - _; at most 64)")
    return vehicle_id


class TelemetryStore:
    """Vehicles' GPS tracks in Redis."""

    def __init__(self, client: redis.Redis, track_seconds: float) -> None:
        self._redis = client
        self.track_seconds = track_seconds
        self._set_if_newer = client.register_script(_SET_IF_NEWER)

    def add(self, vehicle_id: str, fixes: Sequence[GpsFix], now: float | None = None) -> None:
        if not fixes:
            return
        now = time.time() if now is None else now
        newest = max(fixes, key=lambda f: f.time)
        key = keys.track(vehicle_id)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.zadd(key, {fix_to_json(f): f.time.timestamp() for f in fixes})
            pipe.zremrangebyscore(key, "-inf", f"({now - self.track_seconds}")
            pipe.expire(key, int(self.track_seconds) + 60)
            pipe.sadd(keys.VEHICLE_INDEX, vehicle_id)
            pipe.hincrby(keys.TELEMETRY_STATS, "accepted", len(fixes))
            self._set_if_newer(keys=[keys.last_fix(vehicle_id)],
                               args=[newest.time.timestamp(), fix_to_json(newest), LAST_FIX_TTL_S], client=pipe)
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"GPS fixes of {vehicle_id} not stored: Redis error: {exc}") from exc

    def count_rejected(self, n: int) -> None:
        try:
            self._redis.hincrby(keys.TELEMETRY_STATS, "rejected", n)
        except redis.RedisError as exc:
            log.debug("rejected-fix counter not updated: %s", exc)

    def track(self, vehicle_id: str, start: float = float("-inf"), end: float = float("inf")) -> list[GpsFix]:
        """The vehicle's fixes with ``start <= time <= end`` (epoch seconds), oldest first."""
        raw = cast(list[bytes], self._redis.zrangebyscore(keys.track(vehicle_id), start, end))
        return [fix_from_json(m) for m in raw]

    def last(self, vehicle_id: str) -> GpsFix | None:
        raw = cast(bytes | None, self._redis.hget(keys.last_fix(vehicle_id), "fix"))
        return None if raw is None else fix_from_json(raw)

    def vehicles(self) -> list[str]:
        return sorted(m.decode() for m in cast(set[bytes], self._redis.smembers(keys.VEHICLE_INDEX)))

    def stats(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], self._redis.hgetall(keys.TELEMETRY_STATS))
        return {k.decode(): int(v) for k, v in raw.items()}


# ---- position of a frame ----------------------------------------------------------------------------------


def _lerp_heading(a: float, b: float, f: float) -> float:
    diff = (b - a + 540) % 360 - 180  # the short way round
    return (a + diff * f) % 360


def _bearing(a: GpsFix, b: GpsFix) -> tuple[float, float]:
    """Heading (degrees) and distance (m) from a to b, equirectangular (exact enough within a city)."""
    lat0 = math.radians((a.lat + b.lat) / 2)
    east = math.radians(b.lon - a.lon) * math.cos(lat0) * EARTH_RADIUS_M
    north = math.radians(b.lat - a.lat) * EARTH_RADIUS_M
    return math.degrees(math.atan2(east, north)) % 360, math.hypot(east, north)


def position_at(fixes: Sequence[GpsFix], t: datetime, max_gap_seconds: float) -> GpsFix | None:
    """The position at ``t`` from time-sorted ``fixes``: interpolated, briefly dead-reckoned, or None."""
    if not fixes:
        return None
    ts = t.timestamp()
    times = [f.time.timestamp() for f in fixes]
    i = bisect.bisect_right(times, ts)
    if 0 < i < len(fixes):
        a, b = fixes[i - 1], fixes[i]
        ta, tb = times[i - 1], times[i]
        if tb - ta <= max_gap_seconds:
            f = (ts - ta) / (tb - ta) if tb > ta else 0.0
            heading, dist = _bearing(a, b)
            if dist < 1.0 and a.heading is not None and b.heading is not None:
                heading = _lerp_heading(a.heading, b.heading, f)  # standing still: keep the reported heading
            speed = dist / (tb - ta) if tb > ta else (a.speed or 0.0)
            return GpsFix(lat=a.lat + (b.lat - a.lat) * f, lon=a.lon + (b.lon - a.lon) * f, time=t,
                          heading=heading, speed=speed)
        near, t_near = (a, ta) if ts - ta <= tb - ts else (b, tb)
        if abs(ts - t_near) > max_gap_seconds:
            return None
        return GpsFix(near.lat, near.lon, t, near.heading, near.speed)
    if i == 0:
        first = fixes[0]
        if times[0] - ts > max_gap_seconds:
            return None
        return GpsFix(first.lat, first.lon, t, first.heading, first.speed)
    ahead = ts - times[-1]
    if ahead > max_gap_seconds:
        return None
    return _dead_reckon(fixes, ahead, t)


def _dead_reckon(fixes: Sequence[GpsFix], ahead: float, t: datetime) -> GpsFix:
    """Past the newest fix: carry the car on along its heading for a few seconds at most."""
    last = fixes[-1]
    heading, speed = last.heading, last.speed
    if (heading is None or speed is None) and len(fixes) >= 2:
        bearing, dist = _bearing(fixes[-2], last)
        dt = (last.time - fixes[-2].time).total_seconds()
        heading = bearing if heading is None else heading
        speed = (dist / dt if dt > 0 else 0.0) if speed is None else speed
    if heading is None or not speed:
        return GpsFix(last.lat, last.lon, t, heading, speed)
    travelled = speed * min(ahead, DEAD_RECKON_MAX_S)
    rad = math.radians(heading)
    lat = last.lat + math.degrees(travelled * math.cos(rad) / EARTH_RADIUS_M)
    lon = last.lon + math.degrees(travelled * math.sin(rad) / (EARTH_RADIUS_M * math.cos(math.radians(last.lat))))
    return GpsFix(lat, lon, t, heading, speed)


class TrackGpsSource:
    """``gps`` for a camera in a vehicle that reports its own fixes: ``source(captured_at) -> GpsFix | None``."""

    def __init__(
        self,
        store: TelemetryStore,
        vehicle_id: str,
        max_gap_seconds: float = 30.0,
        refresh_seconds: float = 0.5,
        window_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.vehicle_id = check_vehicle_id(vehicle_id)
        self.max_gap_seconds = max_gap_seconds
        self.refresh_seconds = refresh_seconds
        # Frames are near "now": the last two gaps' worth of fixes answers them all.
        self.window_seconds = 2 * max_gap_seconds if window_seconds is None else window_seconds
        self._fixes: list[GpsFix] = []
        self._fetched = -math.inf  # monotonic time of the last read
        self._last_error = -math.inf
        self.reads = 0

    def _refresh(self, around: float) -> None:
        try:
            self._fixes = self.store.track(self.vehicle_id, around - self.window_seconds, math.inf)
            self.reads += 1
        except (redis.RedisError, ValueError, KeyError) as exc:
            now = time.monotonic()
            if now - self._last_error > ERROR_LOG_EVERY_S:
                self._last_error = now
                log.warning("GPS track of %s unreadable (%s); using the %d fixes cached", self.vehicle_id, exc,
                            len(self._fixes))

    def __call__(self, t: datetime) -> GpsFix | None:
        ts = t.timestamp()
        mono = time.monotonic()
        newest = self._fixes[-1].time.timestamp() if self._fixes else -math.inf
        if ts > newest and mono - self._fetched >= self.refresh_seconds:
            self._fetched = mono
            self._refresh(ts)
        elif self._fixes and ts < self._fixes[0].time.timestamp() - self.max_gap_seconds:
            # An old frame (a replay): read that stretch directly, without disturbing the live cache.
            try:
                return position_at(self.store.track(self.vehicle_id, ts - self.max_gap_seconds,
                                                    ts + self.max_gap_seconds), t, self.max_gap_seconds)
            except redis.RedisError:
                return None
        return position_at(self._fixes, t, self.max_gap_seconds)


def gps_for_camera(camera: CameraSettings, settings: IngestSettings, store: TelemetryStore | None) -> GpsSource | None:
    """A camera's GPS: its simulated route or fixed position when set, else its vehicle's reported track."""
    source = gps_source_for(camera)
    if source is not None or store is None:
        return source
    vehicle = settings.telemetry_vehicles.get(camera.id, camera.id)
    return TrackGpsSource(store, vehicle, max_gap_seconds=settings.telemetry_max_gap_seconds)
