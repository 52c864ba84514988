"""Patrol vehicles as the command centre sees them, kept in Redis (coverage computed by ``fleet.coverage``).

A vehicle's view (``Fleet.vehicles(now)``):

* crew status: ``on_patrol`` / ``paused`` / ``off_duty`` as the car last sent it (``POST /api/vehicles/<id>/status``);
  a resent or older change never overrides a newer one. A car that never sent one is on patrol, as the car assumes.
* link: ``online`` while something arrived from the car (GPS fixes, a status change, a report, a video frame a
  worker read from one of its cameras) within ``fleet.link_timeout_seconds``, else ``offline``. ``link_since``:
  online = when this stretch of contact began; offline = the last contact (the car went dark right after it).
* the last GPS fix (the telemetry store's newest fix) and today's track (one point per
  ``fleet.track_point_seconds``), "today" being the city's day (``locale.timezone``).
* coverage, per vehicle and day (``fleet.coverage``): the leaf grids and the ``fleet.coverage_cell_m`` street cells
  its fixes, and the lines between fixes at most ``fleet.coverage_max_gap_seconds`` apart, passed through, each
  with the first time.

Fixes are recorded as the telemetry receiver stores them (``FleetTelemetryStore``), so a backlog a car uploads
after a dead link counts for the day, time and place the fixes were taken, and the link shows online from its
arrival. Everything written is idempotent (a resent batch changes nothing) and expires after ``fleet.keep_days``.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis

from fleet.coverage import (
    TrackPoint,
    cell_center,
    cell_of,
    densify,
    earliest,
    point_of,
    polylines,
    thin,
    track_length_m,
)
from geo.grids import GridFeature, GridIndex, Locator
from gridwatch import keys as gw_keys
from gridwatch.protocol import CrewStatus
from gridwatch.settings import FleetSettings, Settings
from gridwatch.types import CameraStatus, GpsFix
from ingest.gps import StoreUnavailable, TelemetryStore, check_vehicle_id, fix_from_json

log = logging.getLogger(__name__)

REPORT_PENDING_TTL_S = 120  # a report being filed holds its id this long at most (a crash mid-filing frees it)
REPORT_DONE_TTL_S = 30 * 86_400  # a filed report's id answers resends this long
DEFAULT_STATUS = CrewStatus.ON_PATROL
_PENDING = "pending"

__all__ = [
    "Fleet", "FleetError", "FleetTelemetryStore", "LinkState", "StatusOutcome", "VehicleView",
    "link_state", "vehicles_for_wall",
]


class LinkState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class FleetError(ValueError):
    """A status change or day that cannot be accepted; the message says which field and why."""


def link_state(seen: float | None, online_since: float | None, now: float,
               timeout_s: float) -> tuple[LinkState, float | None]:
    """(state, since) from the last contact ``seen`` and the start of its stretch of contact (epoch seconds)."""
    if seen is None:
        return LinkState.OFFLINE, None
    if now - seen <= timeout_s:
        return LinkState.ONLINE, online_since if online_since is not None else seen
    return LinkState.OFFLINE, seen


# ---- Redis --------------------------------------------------------------------------------------------------

# The fleet's keys are named in gridwatch.keys (with what each holds); the short names the code here uses:
VEHICLES_KEY = gw_keys.FLEET_VEHICLES
vehicle_key = gw_keys.fleet_vehicle
day_vehicles_key = gw_keys.fleet_day_vehicles
track_key = gw_keys.fleet_track
track_buckets_key = gw_keys.fleet_track_buckets
grids_key = gw_keys.fleet_grids
cells_key = gw_keys.fleet_cells
report_key = gw_keys.fleet_report


# Contact from a car: a later contact after a silence longer than the timeout starts a new stretch online.
_TOUCH = """
local t = tonumber(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'seen')
if not cur then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'online_since', ARGV[1])
  return 1
end
cur = tonumber(cur)
if t <= cur then return 0 end
if t - cur > tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'online_since', ARGV[1]) end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
return 1
"""

# Crew status: only a change at least as new as the stored one applies (resends and stragglers change nothing).
_SET_STATUS = """
local cur = redis.call('HGET', KEYS[1], 'status_at')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'status_at', ARGV[1], 'crew', ARGV[3], 'shift', ARGV[4])
return 1
"""

# Coverage: field -> the earliest time seen (pairs in ARGV after the TTL).
_EARLIEST = """
for i = 2, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or tonumber(cur) > tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

# Today's track: a point per time bucket, appended to the track string; the header tells one string from
# another of the same name (after it expired or was deleted), so a reader's cached prefix is never mixed up.
_ADD_TRACK = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], '#' .. now[1] .. '.' .. now[2] .. ';')
end
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], 1) == 1 then
    redis.call('APPEND', KEYS[2], ARGV[i + 1] .. ';')
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""

# The newest recorded fix, which joins the next batch's first fix to the track.
_SET_PREV = """
local cur = redis.call('HGET', KEYS[1], 'prev')
if cur then
  local t = tonumber(string.match(cur, '^[^,]+'))
  if t >= tonumber(ARGV[1]) then return 0 end
end
redis.call('HSET', KEYS[1], 'prev', ARGV[2])
return 1
"""


def _point_text(p: TrackPoint) -> str:
    return f"{p.t:.3f},{p.lat:.7f},{p.lon:.7f}"


def _point_from(text: bytes | str) -> TrackPoint:
    t, lat, lon = (text.decode() if isinstance(text, bytes) else text).split(",")
    return TrackPoint(float(t), float(lat), float(lon))


def _text(v: bytes | str | None) -> str | None:
    return v.decode() if isinstance(v, bytes) else v


def _float(v: bytes | str | None) -> float | None:
    s = _text(v)
    return None if s is None or s == "" else float(s)


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _iso(t: float | None) -> str | None:
    d = _dt(t)
    return None if d is None else d.isoformat()


def _epoch(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    return now.timestamp() if isinstance(now, datetime) else float(now)


class TrackReader:
    """Tracks read incrementally: the wall asks every few seconds and only the points added since cross the wire.

    Per track string it keeps the bytes read so far (their count), the string's header and the points, sorted
    by time. A changed header (the string expired and was made anew) or a shorter string means a full read.
    """

    MAX_CACHED = 10_000  # tracks (vehicles x days) kept; beyond, the cache starts over

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[bytes, int, list[TrackPoint]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _parse(raw: bytes) -> list[TrackPoint]:
        return [_point_from(e) for e in raw.split(b";") if e and not e.startswith(b"#")]

    def read(self, client: redis.Redis, keys: Sequence[str]) -> list[list[TrackPoint]]:
        """The points of each track string in ``keys``, oldest first ([] where there is none)."""
        pool = id(client.connection_pool)
        with self._lock:
            cached = [self._cache.get((pool, k)) for k in keys]
        pipe = client.pipeline(transaction=False)
        for k, c in zip(keys, cached, strict=True):
            pipe.getrange(k, 0, 47)
            pipe.getrange(k, c[1] if c is not None else 0, -1)
        raw = pipe.execute()
        out: list[list[TrackPoint]] = []
        for i, (k, c) in enumerate(zip(keys, cached, strict=True)):
            head_raw, tail = cast(bytes, raw[2 * i]), cast(bytes, raw[2 * i + 1])
            if not head_raw:
                out.append([])
                continue
            head = head_raw.split(b";", 1)[0]
            if c is not None and c[0] == head:
                new = self._parse(tail)
                points = c[2]
                if new:
                    in_order = (not points or new[0].t >= points[-1].t) and new == sorted(new)
                    points = points + new if in_order else sorted(points + new)  # a backlog arrived late
                length = c[1] + len(tail)
            else:
                full = tail if c is None else cast(bytes, client.get(k) or b"")
                points, length = sorted(self._parse(full)), len(full)
            out.append(points)
            with self._lock:
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache.clear()
                self._cache[(pool, k)] = (head, length, points)
        return out


TRACKS = TrackReader()


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    vehicle_id: str
    applied: bool  # False: a newer status was already stored (this one arrived late or was resent)
    status: str  # the vehicle's status now
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class VehicleView:
    """One vehicle as the wall and the API show it."""

    id: str
    name: str
    crew: tuple[str, ...]
    shift: str
    status: str
    status_changed_at: datetime | None
    link: LinkState
    link_since: datetime | None
    last_seen: datetime | None
    last_fix: GpsFix | None
    track: list[TrackPoint]
    covered_grids: dict[str, float] = field(default_factory=dict)  # code -> first time today
    covered_cells: int = 0
    reports: int = 0

    def last_fix_dict(self) -> dict[str, Any] | None:
        f = self.last_fix
        return None if f is None else {"lat": f.lat, "lon": f.lon, "at": f.time.astimezone(UTC).isoformat()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "crew": list(self.crew), "shift": self.shift, "status": self.status,
            "status_changed_at": None if self.status_changed_at is None else self.status_changed_at.isoformat(),
            "link": self.link.value,
            "link_since": None if self.link_since is None else self.link_since.isoformat(),
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "last_fix": self.last_fix_dict(),
            "track": [[p.lat, p.lon] for p in self.track],
            "covered_grids": sorted(self.covered_grids, key=lambda c: (self.covered_grids[c], c)),
            "covered_cells": self.covered_cells,
            "reports": self.reports,
        }


class Fleet:
    """The vehicles in Redis. ``grids`` (the map's index) is needed to record grid coverage, not to read it."""

    def __init__(
        self,
        client: redis.Redis,
        settings: FleetSettings,
        timezone: str = "Asia/Shanghai",
        grids: Locator | None = None,
        camera_vehicles: Mapping[str, str] | None = None,
    ) -> None:
        self._redis = client
        self.settings = settings
        self.tz = ZoneInfo(timezone)
        self.grids = grids
        # Cameras a worker reads from a vehicle's stream: a frame from them is contact with the vehicle too.
        self.camera_vehicles = dict(camera_vehicles or {})
        self._telemetry = TelemetryStore(client, track_seconds=1.0)  # only read: the newest fix
        self._touch = client.register_script(_TOUCH)
        self._set_status = client.register_script(_SET_STATUS)
        self._earliest = client.register_script(_EARLIEST)
        self._set_prev = client.register_script(_SET_PREV)
        self._add_track = client.register_script(_ADD_TRACK)

    @classmethod
    def for_settings(cls, settings: Settings, client: redis.Redis,
                     features: Sequence[GridFeature] | None = None, grids: Locator | None = None) -> Fleet:
        """The fleet of a command centre; ``features`` (``repo.list_grids()``) enable grid coverage, located with
        ``grids`` when given (a ``GridRouter`` that follows a newly imported map)."""
        feats = list(features or ())
        locator = grids if grids is not None else (GridIndex(feats) if feats else None)
        return cls(client, settings.fleet, settings.locale.timezone, locator, settings.ingest.telemetry_vehicles)

    @property
    def ttl_s(self) -> int:
        return (self.settings.keep_days + 1) * 86_400

    def day_of(self, t: float) -> str:
        """The city's day (YYYY-MM-DD) of epoch time ``t``."""
        return datetime.fromtimestamp(t, self.tz).date().isoformat()

    def name_of(self, vehicle_id: str) -> str:
        return self.settings.names.get(vehicle_id, vehicle_id)

    # --- writing -------------------------------------------------------------------------------------------

    def touch(self, vehicle_id: str, at: float | None = None) -> None:
        """Contact from the car at ``at`` (default now): it is online for the next ``link_timeout_seconds``."""
        t = _epoch(at)
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(VEHICLES_KEY, vehicle_id)
        self._touch(keys=[vehicle_key(vehicle_id)], args=[f"{t:.3f}", self.settings.link_timeout_seconds],
                    client=pipe)
        pipe.execute()

    def record_fixes(self, vehicle_id: str, fixes: Sequence[GpsFix], now: float | None = None) -> None:
        """Stored GPS fixes: contact now, today's track, the grids and street cells they covered."""
        if not fixes:
            return
        s = self.settings
        t_now = _epoch(now)
        points = sorted(point_of(f) for f in fixes)
        prev_raw = cast(bytes | None, self._redis.hget(vehicle_key(vehicle_id), "prev"))
        joined = list(points)
        if prev_raw is not None:
            prev = _point_from(prev_raw)
            if prev.t < points[0].t:
                joined.insert(0, prev)  # the line from the last batch's end is covered too
        by_day: dict[str, list[TrackPoint]] = {}
        for p in densify(joined, s.coverage_cell_m / 2, s.coverage_max_gap_seconds):
            by_day.setdefault(self.day_of(p.t), []).append(p)
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(VEHICLES_KEY, vehicle_id)
        self._touch(keys=[vehicle_key(vehicle_id)], args=[f"{t_now:.3f}", s.link_timeout_seconds], client=pipe)
        newest = points[-1]
        self._set_prev(keys=[vehicle_key(vehicle_id)], args=[f"{newest.t:.3f}", _point_text(newest)], client=pipe)
        track_args: dict[str, list[str | int]] = {}
        for p in points:
            track_args.setdefault(self.day_of(p.t), [self.ttl_s]).extend(
                [str(math.floor(p.t / s.track_point_seconds)), _point_text(p)])
        for day, args in track_args.items():
            self._add_track(keys=[track_buckets_key(day, vehicle_id), track_key(day, vehicle_id)], args=args,
                            client=pipe)
        for day, dense in by_day.items():
            pipe.sadd(day_vehicles_key(day), vehicle_id)
            pipe.expire(day_vehicles_key(day), self.ttl_s)
            cells: dict[str, float] = {}
            for p in dense:  # already densified at half a cell
                earliest(cells, cell_of(p.lat, p.lon, s.coverage_cell_m), p.t)
            self._merge(pipe, cells_key(day, vehicle_id), cells)
            if self.grids is not None:
                grids: dict[str, float] = {}
                for p in dense:
                    ref = self.grids.locate(p.lat, p.lon)
                    if ref is not None:
                        earliest(grids, ref.code, p.t)
                self._merge(pipe, grids_key(day, vehicle_id), grids)
        pipe.execute()

    def _merge(self, pipe: redis.client.Pipeline, key: str, earliest: Mapping[str, float]) -> None:
        if not earliest:
            return
        args: list[str | int] = [self.ttl_s]
        for k, t in earliest.items():
            args += [k, f"{t:.3f}"]
        self._earliest(keys=[key], args=args, client=pipe)

    def set_status(self, vehicle_id: str, status: CrewStatus | str, changed_at: datetime,
                   crew: Sequence[str] = (), shift: str = "", now: float | None = None) -> StatusOutcome:
        """The crew's status as of ``changed_at``; a change older than the stored one is kept out (idempotent)."""
        check_vehicle_id(vehicle_id)
        try:
            status = CrewStatus(status)
        except ValueError:
            raise FleetError(f"status: {status!r} is not one of {', '.join(s.value for s in CrewStatus)}") from None
        if changed_at.tzinfo is None:
            raise FleetError("changed_at: needs a time zone offset")
        key = vehicle_key(vehicle_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(VEHICLES_KEY, vehicle_id)
        self._set_status(keys=[key], args=[f"{changed_at.timestamp():.6f}", status.value,
                                           json.dumps(list(crew), ensure_ascii=False), shift], client=pipe)
        self._touch(keys=[key], args=[f"{_epoch(now):.3f}", self.settings.link_timeout_seconds], client=pipe)
        pipe.hmget(key, "status", "status_at")
        _, applied, _, (cur_status, cur_at) = pipe.execute()
        return StatusOutcome(vehicle_id, bool(applied), _text(cur_status) or status.value, _dt(_float(cur_at)))

    # --- reports: one case per report id -----------------------------------------------------------------

    def begin_report(self, report_id: str) -> dict[str, Any] | None:
        """None: this report is new and now ours to file. Else ``{"pending": True}`` while another request files
        it, or the outcome stored by ``finish_report`` (a resend)."""
        key = report_key(report_id)
        if self._redis.set(key, _PENDING, nx=True, ex=REPORT_PENDING_TTL_S):
            return None
        raw = _text(cast(bytes | None, self._redis.get(key)))
        if raw is None:  # expired between the two calls: try once more
            return None if self._redis.set(key, _PENDING, nx=True, ex=REPORT_PENDING_TTL_S) else {"pending": True}
        if raw == _PENDING:
            return {"pending": True}
        return dict(json.loads(raw))

    def finish_report(self, report_id: str, outcome: Mapping[str, Any], vehicle_id: str | None = None) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(report_key(report_id), json.dumps(dict(outcome), ensure_ascii=False), ex=REPORT_DONE_TTL_S)
        if vehicle_id is not None:
            pipe.sadd(VEHICLES_KEY, vehicle_id)
            pipe.hincrby(vehicle_key(vehicle_id), "reports", 1)
        pipe.execute()

    def abandon_report(self, report_id: str) -> None:
        """Filing failed: free the id so the sender's retry files it."""
        key = report_key(report_id)
        if _text(cast(bytes | None, self._redis.get(key))) == _PENDING:
            self._redis.delete(key)

    # --- reading -------------------------------------------------------------------------------------------

    def vehicle_ids(self) -> list[str]:
        known = {m.decode() for m in cast(set[bytes], self._redis.smembers(VEHICLES_KEY))}
        known |= {m.decode() for m in cast(set[bytes], self._redis.smembers(gw_keys.VEHICLE_INDEX))}
        return sorted(known | set(self.settings.names))

    def _frame_contacts(self, vehicle_ids: Iterable[str], now: float) -> None:
        """Video frames a worker read from a vehicle's cameras count as contact (the stream arrives)."""
        cameras: dict[str, str] = {v: v for v in vehicle_ids}
        cameras.update(self.camera_vehicles)
        pipe = self._redis.pipeline(transaction=False)
        for cam in cameras:
            pipe.hmget(gw_keys.camera_state(cam), "status", "last_frame_at")
        for (cam, vid), (status, last) in zip(cameras.items(), pipe.execute(), strict=True):
            last_s = _text(last)
            if _text(status) != CameraStatus.ONLINE.value or not last_s:
                continue
            t = datetime.fromisoformat(last_s).timestamp()
            if now - t <= self.settings.link_timeout_seconds:
                self.touch(vid, min(t, now))
                log.debug("camera %s: frame at %s is contact with vehicle %s", cam, last_s, vid)

    def vehicles(self, now: datetime | float | None = None, max_track_points: int | None = None) -> list[VehicleView]:
        """Every known vehicle (heard of, or named in ``fleet.names``) with today's track and coverage."""
        t_now = _epoch(now)
        ids = self.vehicle_ids()
        self._frame_contacts(ids, t_now)
        day = self.day_of(t_now)
        pipe = self._redis.pipeline(transaction=False)
        for vid in ids:
            pipe.hgetall(vehicle_key(vid))
            pipe.hget(gw_keys.last_fix(vid), "fix")
            pipe.hgetall(grids_key(day, vid))
            pipe.hlen(cells_key(day, vid))
        raw = pipe.execute()
        tracks = TRACKS.read(self._redis, [track_key(day, vid) for vid in ids])
        out: list[VehicleView] = []
        for i, vid in enumerate(ids):
            h, last_raw, grids_raw, n_cells = raw[4 * i: 4 * i + 4]
            out.append(self._view(vid, h, last_raw, tracks[i], grids_raw, n_cells, t_now, max_track_points))
        return out

    def _view(self, vid: str, h: Mapping[bytes, bytes], last_raw: bytes | None, track: list[TrackPoint],
              grids_raw: Mapping[bytes, bytes], n_cells: int, now: float, max_points: int | None) -> VehicleView:
        def get(name: str) -> str | None:
            return _text(h.get(name.encode()))

        state, since = link_state(_float(get("seen")), _float(get("online_since")), now,
                                  self.settings.link_timeout_seconds)
        if max_points is not None:
            track = thin(track, max_points)
        last_fix = None if last_raw is None else fix_from_json(last_raw)
        crew_raw = get("crew")
        return VehicleView(
            id=vid, name=self.name_of(vid), crew=tuple(json.loads(crew_raw)) if crew_raw else (),
            shift=get("shift") or "", status=get("status") or DEFAULT_STATUS.value,
            status_changed_at=_dt(_float(get("status_at"))), link=state, link_since=_dt(since),
            last_seen=_dt(_float(get("seen"))), last_fix=last_fix, track=track,
            covered_grids={k.decode(): float(v) for k, v in grids_raw.items()}, covered_cells=int(n_cells),
            reports=int(get("reports") or 0),
        )

    def day_track(self, day: str, vehicle_id: str) -> list[TrackPoint]:
        return TRACKS.read(self._redis, [track_key(day, vehicle_id)])[0]

    def coverage(self, day: date | str) -> dict[str, Any]:
        """Everything covered on ``day``: grids and street cells (first time and vehicle), per-vehicle polylines."""
        d = day if isinstance(day, str) else day.isoformat()
        ids = sorted(m.decode() for m in cast(set[bytes], self._redis.smembers(day_vehicles_key(d))))
        pipe = self._redis.pipeline(transaction=False)
        for vid in ids:
            pipe.hgetall(grids_key(d, vid))
            pipe.hgetall(cells_key(d, vid))
        raw = pipe.execute()
        tracks = TRACKS.read(self._redis, [track_key(d, vid) for vid in ids])
        s = self.settings
        grids: dict[str, tuple[float, str]] = {}
        grid_vehicles: dict[str, set[str]] = {}
        cells: dict[str, tuple[float, str]] = {}
        vehicles: list[dict[str, Any]] = []
        for i, vid in enumerate(ids):
            track = tracks[i]
            v_grids = {k.decode(): float(v) for k, v in raw[2 * i].items()}
            v_cells = {k.decode(): float(v) for k, v in raw[2 * i + 1].items()}
            for code, t in v_grids.items():
                grid_vehicles.setdefault(code, set()).add(vid)
                if code not in grids or t < grids[code][0]:
                    grids[code] = (t, vid)
            for cell, t in v_cells.items():
                if cell not in cells or t < cells[cell][0]:
                    cells[cell] = (t, vid)
            vehicles.append({
                "id": vid, "name": self.name_of(vid),
                "polylines": polylines(track, s.coverage_max_gap_seconds),
                "km": round(track_length_m(track, s.coverage_max_gap_seconds) / 1000, 3),
                "grids": len(v_grids), "cells": len(v_cells),
            })
        locator = self.grids
        return {
            "day": d, "cell_m": s.coverage_cell_m,
            # Names from the map in force now: a grid renamed by a new import shows its new name.
            "grids": [{"code": code, "name": locator.name_of(code) if locator is not None else None,
                       "first_at": _iso(t), "vehicle": vid, "vehicles": sorted(grid_vehicles[code])}
                      for code, (t, vid) in sorted(grids.items(), key=lambda kv: (kv[1][0], kv[0]))],
            "cells": [{"cell": cell, "lat": round(c[0], 6), "lon": round(c[1], 6), "first_at": _iso(t), "vehicle": vid}
                      for cell, (t, vid) in sorted(cells.items(), key=lambda kv: (kv[1][0], kv[0]))
                      for c in [cell_center(cell, s.coverage_cell_m)]],
            "vehicles": vehicles,
        }


class FleetTelemetryStore(TelemetryStore):
    """The telemetry store that also records every stored batch in the fleet (track, coverage, contact)."""

    def __init__(self, client: redis.Redis, track_seconds: float, fleet: Fleet) -> None:
        super().__init__(client, track_seconds)
        self.fleet = fleet

    def add(self, vehicle_id: str, fixes: Sequence[GpsFix], now: float | None = None) -> None:
        super().add(vehicle_id, fixes, now)
        try:
            self.fleet.record_fixes(vehicle_id, fixes, now)
        except redis.RedisError as exc:
            # The car sends the batch again; storing it twice changes nothing.
            raise StoreUnavailable(f"GPS fixes of {vehicle_id} not recorded in the fleet: Redis error: {exc}") from exc


def vehicles_for_wall(client: redis.Redis, now: datetime | float, *, settings: Settings | None = None,
                      max_track_points: int = 1000) -> list[dict[str, Any]]:
    """Plain dicts for the wall's map, one per vehicle::

        {"id", "name", "status", "link", "link_since", "lat", "lon", "track": [[lat, lon], ...],
         "covered_grids": [code, ...], "crew": [...], "last_fix_at"}

    ``status``: on_patrol / paused / off_duty; ``link``: online / offline; ``lat``/``lon``: the last fix (None
    before any); ``track``: today's track (thinned to ``max_track_points``); ``covered_grids``: the leaf grids it
    covered today, in the order it first entered them. ``settings`` default: the fleet defaults, Asia/Shanghai.
    """
    fleet_settings = settings.fleet if settings is not None else FleetSettings()
    tz = settings.locale.timezone if settings is not None else "Asia/Shanghai"
    cams = settings.ingest.telemetry_vehicles if settings is not None else None
    fleet = Fleet(client, fleet_settings, tz, camera_vehicles=cams)
    out: list[dict[str, Any]] = []
    for v in fleet.vehicles(now, max_track_points=max_track_points):
        d = v.to_dict()
        last = v.last_fix
        out.append({
            "id": v.id, "name": v.name, "status": v.status, "link": v.link.value, "link_since": d["link_since"],
            "lat": None if last is None else last.lat, "lon": None if last is None else last.lon,
            "track": d["track"], "covered_grids": d["covered_grids"], "crew": list(v.crew),
            "last_fix_at": None if last is None else last.time.astimezone(UTC).isoformat(),
        })
    return out
