"""``POST /api/telemetry/<vehicle_id>``: vehicles report GPS fixes over HTTP into the services' GPS intake
(``fleet.telemetry.TelemetryIngest``, shared with the websocket receiver ``dashboard.telemetry_ws``).

Body: one fix (``{"lat": .., "lon": .., "time": "2026-11-24T08:00:00+08:00", "heading": .., "speed": ..}``)
or a JSON list of up to 1000. Answers:

* 200 ``{"accepted": n, "rejected": [{"index": i, "error": "..."}]}`` when at least one fix was stored;
* 400 ``{"error": "...", "accepted": 0, "rejected": [...]}`` when none was (bad JSON, every fix refused);
* 413 for a body over 1 MB, 503 when the track store (Redis) does not answer (the vehicle should retry).
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from dashboard.api.common import BodyTooLarge, app_services, error, raw_body
from ingest.gps import StoreUnavailable, TelemetryError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


blueprint = Blueprint("gridwatch_telemetry", __name__)


@blueprint.post("/api/telemetry/<vehicle_id>")
def receive(vehicle_id: str) -> tuple[Response, int]:
    try:
        body = raw_body(MAX_BODY)
    except BodyTooLarge as exc:
        return error(413, str(exc))
    try:
        outcome = app_services().telemetry.submit_text(vehicle_id, body)
    except TelemetryError as exc:
        return jsonify({"error": str(exc), "accepted": 0, "rejected": []}), 400
    except StoreUnavailable as exc:
        log.warning("POST /api/telemetry/%s: %s", vehicle_id, exc)
        return error(503, "GPS track store unavailable; retry later")
    result = outcome.to_dict()
    if outcome.accepted == 0:
        result["error"] = outcome.rejected[0].error if len(outcome.rejected) == 1 \
            else f"all {len(outcome.rejected)} fixes refused"
        return jsonify(result), 400
    return jsonify(result), 200
