"""``POST /api/telemetry/<vehicle_id>``: vehicles report GPS fixes over HTTP (a Flask blueprint).

Body: one fix (``{"lat": .., "lon": .., "time": "2026-11-24T08:00:00+08:00", "heading": .., "speed": ..}``)
or a JSON list of up to 1000. Answers:

* 200 ``{"accepted": n, "rejected": [{"index": i, "error": "..."}]}`` when at least one fix was stored;
* 400 ``{"error": "...", "accepted": 0, "rejected": [...]}`` when none was (bad JSON, every fix refused);
* 413 for a body over 1 MB, 503 when the track store (Redis) does not answer (the vehicle should retry).
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from fleet.telemetry import TelemetryIngest
from ingest.gps import StoreUnavailable, TelemetryError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def telemetry_blueprint(ingest: TelemetryIngest) -> Blueprint:
    """The receiver as a blueprint: ``app.server.register_blueprint(telemetry_blueprint(ingest))``."""
    bp = Blueprint("gridwatch_telemetry", __name__)

    @bp.post("/api/telemetry/<vehicle_id>")
    def receive(vehicle_id: str) -> tuple[Response, int]:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return jsonify({"error": f"body of {request.content_length} bytes; at most {MAX_BODY}"}), 413
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY:
            return jsonify({"error": f"body over {MAX_BODY} bytes"}), 413
        try:
            outcome = ingest.submit_text(vehicle_id, body)
        except TelemetryError as exc:
            return jsonify({"error": str(exc), "accepted": 0, "rejected": []}), 400
        except StoreUnavailable as exc:
            log.warning("POST /api/telemetry/%s: %s", vehicle_id, exc)
            return jsonify({"error": "GPS track store unavailable; retry later"}), 503
        result = outcome.to_dict()
        if outcome.accepted == 0:
            result["error"] = outcome.rejected[0].error if len(outcome.rejected) == 1 \
                else f"all {len(outcome.rejected)} fixes refused"
            return jsonify(result), 400
        return jsonify(result), 200

    return bp
