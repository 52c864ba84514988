"""The camera registry as JSON: ``/api/cameras/config`` (the services' ``ingest.registry.CameraRegistry``).

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

from flask import Blueprint, Response, jsonify

from dashboard.api.common import app_services, error, json_object
from ingest.registry import DuplicateCamera, RegistryError, UnknownCamera, camera_view

log = logging.getLogger(__name__)


blueprint = Blueprint("gridwatch_cameras_config", __name__)


@blueprint.get("/api/cameras/config")
def list_cameras() -> tuple[Response, int]:
    registry = app_services().cameras
    try:
        cams = registry.load()
    except RegistryError as exc:
        log.error("GET /api/cameras/config: %s", exc)
        return error(503, "the camera registry is unreadable; see the server log")
    return jsonify({"version": registry.version(), "cameras": [camera_view(c) for c in cams]}), 200


@blueprint.post("/api/cameras/config")
def add_camera() -> tuple[Response, int]:
    body = json_object()
    if body is None:
        return error(400, "send the camera as a JSON object: id, name, url (and enabled, gps_route, lat, lon)")
    try:
        cam = app_services().cameras.add(body)
    except DuplicateCamera as exc:
        return error(409, str(exc))
    except RegistryError as exc:
        return error(400, str(exc))
    return jsonify(camera_view(cam)), 201


@blueprint.patch("/api/cameras/config/<camera_id>")
def change_camera(camera_id: str) -> tuple[Response, int]:
    body = json_object()
    if not body:
        return error(400, "send the fields to change as a JSON object, e.g. {\"name\": \"...\"}")
    try:
        cam = app_services().cameras.update(camera_id, body)
    except UnknownCamera as exc:
        return error(404, str(exc))
    except RegistryError as exc:
        return error(400, str(exc))
    return jsonify(camera_view(cam)), 200


@blueprint.delete("/api/cameras/config/<camera_id>")
def remove_camera(camera_id: str) -> tuple[Response, int]:
    try:
        app_services().cameras.remove(camera_id)
    except UnknownCamera as exc:
        return error(404, str(exc))
    return jsonify({"removed": camera_id}), 200
