"""Redis key names: one naming scheme, in one place."""
from __future__ import annotations

ALERTS_STREAM = "gw:alerts"


def camera_state(camera_id: str) -> str:
    return f"gw:camera:{camera_id}"


def camera_preview(camera_id: str) -> str:
    return f"gw:preview:{camera_id}"


def health(process: str) -> str:
    return f"gw:health:{process}"


CAMERA_INDEX = "gw:cameras"  # a set of camera ids that have published state
