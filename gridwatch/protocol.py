"""The car<->centre protocol: what a patrol car (``patrol/``) sends the command centre (``fleet/``, ``dashboard/``).

The one written contract between the two sides: the endpoint paths, the crew status, and the shape of every
message the car sends. Both sides import it from here; neither knows the other's modules.

Command-centre endpoints (JSON bodies, with ``Authorization: Bearer <centre_token>`` when set; 2xx = accepted,
4xx = refused for good with ``{"error": ...}``, 5xx, 401/403 (a token to fix) or no answer = the car retries):

``POST /api/reports`` — a manual report that enters the same case flow as a video alert::

    {"report_id": "9f1c...", "vehicle_id": "zz-a1234", "crew": ["Li Wei"], "shift": "2026-11-24-day",
     "category": "0503", "note": "stall on the pavement", "created_at": "2026-11-24T08:00:00+00:00",
     "lat": 34.78, "lon": 113.68, "position_time": "2026-11-24T07:59:59+00:00",
     "photo": {"filename": "stall.jpg", "content_type": "image/jpeg", "data_base64": "..."}}

  ``report_id`` is the idempotency key: a car that lost the answer sends the same report again. ``lat``,
  ``lon``, ``position_time`` and ``photo`` may be null. ``category`` is a gridwatch.categories code.

``POST /api/vehicles/<vehicle_id>/status`` — the crew's availability::

    {"vehicle_id": "zz-a1234", "status": "paused", "changed_at": "2026-11-24T08:00:00+00:00",
     "crew": ["Li Wei"], "shift": "2026-11-24-day", "lat": 34.78, "lon": 113.68}
"""
from __future__ import annotations

from enum import StrEnum

# The centre's endpoints the car posts to, relative to its ``centre_url``.
REPORTS_PATH = "/api/reports"
STATUS_PATH = "/api/vehicles/{vehicle_id}/status"
TELEMETRY_PATH = "/api/telemetry/{vehicle_id}"


def status_path(vehicle_id: str) -> str:
    return STATUS_PATH.format(vehicle_id=vehicle_id)


def telemetry_path(vehicle_id: str) -> str:
    return TELEMETRY_PATH.format(vehicle_id=vehicle_id)


class CrewStatus(StrEnum):
    """The crew's availability as the car sends it and the centre shows it."""

    ON_PATROL = "on_patrol"
    PAUSED = "paused"
    OFF_DUTY = "off_duty"
