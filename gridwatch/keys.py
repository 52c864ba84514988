"""Redis key, stream and channel names: one naming scheme, in one place (every ``gw:`` string of ours is here).

Each name keeps its exact string: data in running deployments must still be found. A test
(``tests/gridwatch/test_keys.py``) fails on a ``"gw:`` literal anywhere else in our packages.
"""
from __future__ import annotations

# ---- alerts and cameras ---------------------------------------------------------------------------------------

ALERTS_STREAM = "gw:alerts"  # stream: one entry per stored alert (gridwatch.events), read by the case consumers
CAMERA_INDEX = "gw:cameras"  # set: camera ids that have published state
CAMERAS_CHANNEL = "gw:cameras:changed"  # pub/sub: the camera registry changed (no URLs, no secrets)


def camera_state(camera_id: str) -> str:
    """Hash: the camera's published state (gridwatch.events.state_fields)."""
    return f"gw:camera:{camera_id}"


def camera_preview(camera_id: str) -> str:
    """String: the camera's newest preview JPEG."""
    return f"gw:preview:{camera_id}"


BOXES_PREFIX = "gw:boxes:"  # pub/sub channels: a frame's detection boxes, one channel per camera


def boxes_channel(camera_id: str) -> str:
    """Pub/sub: the detection boxes of each frame vision looked at, for the wall's live overlay (gridwatch.boxes)."""
    return f"{BOXES_PREFIX}{camera_id}"


# ---- process health and leases --------------------------------------------------------------------------------


def health(kind: str, instance: str | None = None) -> str:
    """String: a process's last heartbeat (ISO time), TTL ``health.DEFAULT_TTL_S`` (15 s) unless told."""
    return f"gw:health:{kind}" if instance is None else f"gw:health:{kind}:{instance}"


LEASE_WORKERS = "gw:lease:workers"  # sorted set: live workers scored by Redis' clock (ms), PEXPIRE 2 x lease_ttl


def camera_lease(camera_id: str) -> str:
    """String: the worker id holding the camera, TTL ``lease_ttl`` (PX), renewed by its holder."""
    return f"gw:lease:camera:{camera_id}"


def learning_lease(night_iso: str) -> str:
    """String: the process running a night's learning (``night_iso`` YYYY-MM-DD), TTL 36 h."""
    return f"gw:lease:learning:{night_iso}"


# ---- dashboard: sessions, login throttle, claims --------------------------------------------------------------


def revoked_session(sid: str) -> str:
    """String "1": a logged-out session id, TTL ``auth.session_minutes``."""
    return f"gw:session:revoked:{sid}"


def login_failures_by_address(address: str) -> str:
    """Counter: failed logins from an address, TTL ``throttle.WINDOW_S`` (1 h)."""
    return f"gw:login:addr:{address}"


def login_failures_by_name(name: str) -> str:
    """Counter: failed logins for a user name, TTL ``throttle.WINDOW_S`` (1 h)."""
    return f"gw:login:name:{name}"


def login_known_addresses(name: str) -> str:
    """Set: addresses a user name logged in from, TTL ``throttle.KNOWN_ADDRESS_DAYS`` (60 days)."""
    return f"gw:login:known:{name}"


def claim(kind: str, item_id: str) -> str:
    """String: who holds an alert or case (``kind``), TTL ``auth.claim_seconds`` (PX)."""
    return f"gw:claim:{kind}:{item_id}"


# ---- GPS tracks (ingest) --------------------------------------------------------------------------------------

VEHICLE_INDEX = "gw:vehicles"  # set: vehicle ids that sent GPS fixes
TELEMETRY_STATS = "gw:telemetry:stats"  # hash of counters: accepted, rejected


def track(vehicle_id: str) -> str:
    """Sorted set: the vehicle's GPS fixes (JSON members) scored by fix time (epoch seconds), TTL track + 60 s."""
    return f"gw:track:{vehicle_id}"


def last_fix(vehicle_id: str) -> str:
    """Hash: the vehicle's newest fix (``t`` epoch seconds, ``fix`` JSON), kept after the track expires."""
    return f"gw:track-last:{vehicle_id}"


# ---- the fleet (fleet/vehicles.py); day keys expire after ``fleet.keep_days`` + 1 ------------------------------

FLEET_VEHICLES = "gw:fleet:vehicles"  # set: vehicle ids the fleet has heard of


def fleet_vehicle(vehicle_id: str) -> str:
    """Hash: status, status_at, crew (JSON), shift, seen, online_since, prev (newest recorded fix), reports."""
    return f"gw:fleet:vehicle:{vehicle_id}"


def fleet_day_vehicles(day: str) -> str:
    """Set: vehicles with a track on ``day`` (YYYY-MM-DD, the city's day)."""
    return f"gw:fleet:day:{day}"


def fleet_track(day: str, vehicle_id: str) -> str:
    """String: "#<created>;" then "t,lat,lon;" per point, appended as they arrive (a backlog out of time order).

    Append-only, so a reader that has seen its first N bytes fetches only what came after them.
    """
    return f"gw:fleet:track:{day}:{vehicle_id}"


def fleet_track_buckets(day: str, vehicle_id: str) -> str:
    """Hash: the time buckets already in the track (the first fix of a bucket is kept, a resend adds nothing)."""
    return f"gw:fleet:track-buckets:{day}:{vehicle_id}"


def fleet_grids(day: str, vehicle_id: str) -> str:
    """Hash: grid code -> first time (epoch seconds) the vehicle was in it that day."""
    return f"gw:fleet:grids:{day}:{vehicle_id}"


def fleet_cells(day: str, vehicle_id: str) -> str:
    """Hash: street cell "row:col" -> first time (epoch seconds) the vehicle was in it that day."""
    return f"gw:fleet:cells:{day}:{vehicle_id}"


def fleet_report(report_id: str) -> str:
    """String: "pending" while a report is being filed (TTL 120 s), then its outcome (JSON, TTL 30 days)."""
    return f"gw:fleet:report:{report_id}"
