"""The camera registry as JSON: ``/api/cameras/config`` (a Flask blueprint).

* ``GET /api/cameras/config`` -> ``{"version": n, "cameras": [camera, ...]}``
* ``POST /api/cameras/config`` with a camera (id, name, url, detect_url, enabled, gps_route, lat, lon, vision)
  -> 201 (``detect_url``: an optional detection sub-stream; vision reads it, clips come from ``url``)
* ``PATCH /api/cameras/config/<id>`` with the fields to change (e.g. ``{"name": ..}``, ``{"enabled": false}``)
* ``DELETE /api/cameras/config/<id>`` -> ``{"removed": id}``

A camera is answered with its URLs masked (``rtsp://user:***@host/...``) and ``has_password``; a password
is accepted but never returned. A URL sent back with ``***`` as its password keeps the stored password,
only while scheme, host and port are unchanged (ingest.registry.keep_masked_password).
Errors are ``{"error": "..."}`` naming the field: 400 invalid, 404 unknown camera, 409 duplicate id.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ingest.registry import CameraRegistry, DuplicateCamera, RegistryError, UnknownCamera, camera_view

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _body() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def cameras_blueprint(registry: CameraRegistry) -> Blueprint:
    """``app.server.register_blueprint(cameras_blueprint(CameraRegistry.for_settings(s, redis_announcer(r))))``."""
    bp = Blueprint("gridwatch_cameras_config", __name__)

    @bp.get("/api/cameras/config")
    def list_cameras() -> tuple[Response, int]:
        try:
            cams = registry.load()
        except RegistryError as exc:
            log.error("GET /api/cameras/config: %s", exc)
            return _error(503, "the camera registry is unreadable; see the server log")
        return jsonify({"version": registry.version(), "cameras": [camera_view(c) for c in cams]}), 200

    @bp.post("/api/cameras/config")
    def add_camera() -> tuple[Response, int]:
        body = _body()
        if body is None:
            return _error(400, "send the camera as a JSON object: id, name, url (and enabled, gps_route, lat, lon)")
        try:
            cam = registry.add(body)
        except DuplicateCamera as exc:
            return _error(409, str(exc))
        except RegistryError as exc:
            return _error(400, str(exc))
        return jsonify(camera_view(cam)), 201

    @bp.patch("/api/cameras/config/<camera_id>")
    def change_camera(camera_id: str) -> tuple[Response, int]:
        body = _body()
        if not body:
            return _error(400, "send the fields to change as a JSON object, e.g. {\"name\": \"...\"}")
        try:
            cam = registry.update(camera_id, body)
        except UnknownCamera as exc:
            return _error(404, str(exc))
        except RegistryError as exc:
            return _error(400, str(exc))
        return jsonify(camera_view(cam)), 200

    @bp.delete("/api/cameras/config/<camera_id>")
    def remove_camera(camera_id: str) -> tuple[Response, int]:
        try:
            registry.remove(camera_id)
        except UnknownCamera as exc:
            return _error(404, str(exc))
        return jsonify({"removed": camera_id}), 200

    return bp
