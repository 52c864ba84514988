"""Redis key and channel names of ingest (GPS tracks, the camera registry); one naming scheme with gridwatch.keys."""
from __future__ import annotations


def track(vehicle_id: str) -> str:
    """Sorted set: the vehicle's GPS fixes (JSON members) scored by fix time (epoch seconds)."""
    return f"gw:track:{vehicle_id}"


def last_fix(vehicle_id: str) -> str:
    """Hash: the vehicle's newest fix (``t`` epoch seconds, ``fix`` JSON), kept after the track expires."""
    return f"gw:track-last:{vehicle_id}"


VEHICLE_INDEX = "gw:vehicles"  # a set of vehicle ids that sent GPS fixes
TELEMETRY_STATS = "gw:telemetry:stats"  # hash of counters: accepted, rejected
CAMERAS_CHANNEL = "gw:cameras:changed"  # pub/sub: the camera registry changed (no URLs, no secrets)
