"""GPS telemetry from patrol vehicles: validate fixes, keep each vehicle's track in Redis, position every frame.

* ``FixIn``: what a vehicle sends, validated (WGS-84 ranges, not the (0, 0) "no fix" placeholder, a
  timezone-aware time; unknown fields are refused so a typo such as ``lng`` is reported, not ignored).
* ``TelemetryIngest.submit(vehicle_id, payload)``: also refuses fixes timed too far in the future, older
  than the kept track, or faster than any car; every refusal names the field and the reason and is counted.
  One bad fix never stops the good ones of the same batch, or of the next message.
* ``TelemetryStore``: a sorted set per vehicle (members = fix JSON, score = fix time) trimmed to
  ``ingest.telemetry_track_seconds``, plus the vehicle's newest fix, which outlives the track.
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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from geo.distance import EARTH_RADIUS_M
from geo.routes import GpsSource, gps_source_for
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import GpsFix
from ingest import keys

log = logging.getLogger(__name__)

VEHICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_BATCH = 1000
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


class FixIn(BaseModel):
    """One GPS fix as a vehicle sends it (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lat: float = Field(ge=-90, le=90, description="Latitude, WGS-84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS-84 degrees.")
    time: AwareDatetime = Field(description="When the fix was taken: ISO 8601 with offset, or epoch seconds.")
    heading: float | None = Field(default=None, ge=0, le=360, description="Degrees clockwise from north.")
    speed: float | None = Field(default=None, ge=0, description="Metres per second.")
    accuracy: float | None = Field(default=None, ge=0, description="Horizontal accuracy in metres (informative).")

    @model_validator(mode="after")
    def _not_null_island(self) -> FixIn:
        if self.lat == 0 and self.lon == 0:
            raise ValueError("position (0, 0) is a receiver without a fix, not a place a patrol car can be")
        return self

    def to_fix(self) -> GpsFix:
        heading = None if self.heading is None else self.heading % 360
        return GpsFix(lat=self.lat, lon=self.lon, time=self.time.astimezone(UTC), heading=heading, speed=self.speed)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "fix"
        msg = "unknown field (expected lat, lon, time, heading, speed, accuracy)" \
            if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


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


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # position in the submitted list (0 for a single fix)
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "error": self.error}


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: int
    rejected: tuple[Rejected, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": [r.to_dict() for r in self.rejected]}


@dataclass
class Counters:
    accepted: int = 0
    rejected: int = 0
    bad_json: int = 0


class TelemetryIngest:
    """Validates what vehicles send and stores the good fixes; shared by the HTTP and websocket receivers."""

    def __init__(self, store: TelemetryStore, settings: IngestSettings, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self.counters = Counters()

    def check(self, raw: object, now: float) -> GpsFix:
        """One fix, validated against the model and the settings' limits; TelemetryError says why not."""
        if not isinstance(raw, dict):
            raise TelemetryError(f"a fix must be a JSON object with lat, lon and time, got {type(raw).__name__}")
        try:
            fix = FixIn.model_validate(raw).to_fix()
        except ValidationError as exc:
            raise TelemetryError(_describe(exc)) from None
        t = fix.time.timestamp()
        s = self.settings
        if t > now + s.telemetry_max_future_seconds:
            raise TelemetryError(f"time: {fix.time.isoformat()} is {t - now:.0f} s in the future "
                                 f"(at most {s.telemetry_max_future_seconds:g} s allowed: check the vehicle's clock)")
        if t < now - s.telemetry_track_seconds:
            raise TelemetryError(f"time: {fix.time.isoformat()} is older than the kept track "
                                 f"({s.telemetry_track_seconds:g} s)")
        if fix.speed is not None and fix.speed > s.telemetry_max_speed_mps:
            raise TelemetryError(f"speed: {fix.speed:g} m/s is impossible for a patrol car "
                                 f"(at most {s.telemetry_max_speed_mps:g} m/s)")
        return fix

    def submit(self, vehicle_id: str, payload: object) -> Outcome:
        """A fix (JSON object) or a list of them; stores the good ones. StoreUnavailable if Redis is down."""
        items = payload if isinstance(payload, list) else [payload]
        try:
            check_vehicle_id(vehicle_id)
            if not items:
                raise TelemetryError("empty list: send at least one fix")
            if len(items) > MAX_BATCH:
                raise TelemetryError(f"{len(items)} fixes in one message; at most {MAX_BATCH}")
        except TelemetryError:
            self._refused(1)
            raise
        now = self._clock()
        good: list[GpsFix] = []
        bad: list[Rejected] = []
        for i, raw in enumerate(items):
            try:
                good.append(self.check(raw, now))
            except TelemetryError as exc:
                bad.append(Rejected(i, str(exc)))
        self.store.add(vehicle_id, good, now)
        if bad:
            self._refused(len(bad))
            log.info("vehicle %s: %d GPS fixes refused, first: %s", vehicle_id, len(bad), bad[0].error)
        with self._lock:
            self.counters.accepted += len(good)
        return Outcome(len(good), tuple(bad))

    def _refused(self, n: int, bad_json: bool = False) -> None:
        with self._lock:
            self.counters.rejected += n
            self.counters.bad_json += int(bad_json)
        self.store.count_rejected(n)

    def submit_text(self, vehicle_id: str, text: str | bytes) -> Outcome:
        """Like ``submit`` for a raw JSON body; bad JSON is a TelemetryError (counted)."""
        try:
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            self._refused(1, bad_json=True)
            raise TelemetryError(f"invalid JSON: {exc}") from None
        return self.submit(vehicle_id, payload)


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
