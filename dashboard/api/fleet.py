"""The command centre's routes for patrol vehicles and people's reports (a Flask blueprint).

* ``POST /api/vehicles/<vehicle_id>/status``: the crew's status, a ``gridwatch.protocol.StatusChange``
  (``{"vehicle_id", "status": "on_patrol"|"paused"|"off_duty", "changed_at", "crew", "shift", "lat", "lon"}``).
  Idempotent: a resent or older change answers 200 with ``"applied": false`` and changes nothing.
* ``GET /api/vehicles``: every vehicle (``fleet.vehicles.VehicleView.to_dict``): id, name, crew, shift, status,
  link, link_since, last_fix ``{lat, lon, at}``, today's track ``[[lat, lon], ...]``, covered grids.
* ``GET /api/coverage?day=YYYY-MM-DD`` (default today): grids and 50 m street cells covered that day, each with
  the first time and vehicle, and each vehicle's track as polylines.
* ``POST /api/reports``: a report by hand, a ``gridwatch.protocol.Report`` (the car<->centre protocol). From a
  patrol car (``vehicle_id`` set; ``report_id`` is the idempotency key: the same report sent twice makes one
  case), or from a person (``"source": "phone"`` or ``"web"``, the logged-in user is the reporter; ``report_id``
  optional). The photo (base64 JPEG/PNG/WebP) is saved under ``media/reports/``; the report enters the case flow
  through ``CaseService.report`` and is routed to the grid at its position.

Answers: 2xx accepted; 4xx refused for good with ``{"error": "..."}`` naming the field (the car stops
retrying); 5xx retry later (Redis or the database did not answer, or the same report is being filed right now).
The car's routes need ``Authorization: Bearer <auth.device_token>`` (a logged-in user may also set a vehicle's
status or file a person's report); without a token they are closed unless ``auth.open_car_routes`` (dev only).
The GET routes need a login and show a scoped user only the vehicles and coverage of their subtree
(``dashboard.auth.guard``).
"""
from __future__ import annotations

import contextlib
import logging
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any

import redis
from flask import Blueprint, Response, jsonify, request

from alerts.cases import Ingested
from alerts.db import QueryError
from alerts.workflow import Actor, Role
from dashboard import scoped
from dashboard.api.common import BadJson, BodyTooLarge, app_services, error, json_body
from dashboard.auth import session
from dashboard.auth.policy import device_ok
from dashboard.context import current
from fleet.vehicles import FleetError
from gridwatch.photos import (
    MAX_PHOTO_BYTES,
    Photo,
    PhotoError,
    base64_size,
    check_photo,
    decode_base64,
    photo_relpath,
    stored_when_accepted,
)
from gridwatch.protocol import ProtocolError, Report, ReportPhoto, parse_report, parse_status
from gridwatch.settings import Settings
from ingest.gps import TelemetryError, check_vehicle_id

log = logging.getLogger(__name__)

MAX_STATUS_BODY = 64 * 1024
# The photo limit (gridwatch.photos; the car's own is lower), base64-inflated by a third, plus the rest of the report.
MAX_REPORT_BODY = base64_size(MAX_PHOTO_BYTES) + 256 * 1024
PHOTO_DIR = "reports"


def report_photo(photo: ReportPhoto) -> Photo:
    """The report's photo, decoded and checked from its header (gridwatch.photos); PhotoError names the problem."""
    return check_photo(decode_base64(photo.data_base64))


def _token_ok(settings: Settings) -> bool:
    # The front door's one check: closed without a token unless auth.open_car_routes (dev only).
    return device_ok(settings.auth, request.headers.get("Authorization"))


def _person() -> Actor | None:
    """The logged-in user as the reporter (dashboard.auth); None without a login."""
    user = session.current_user()
    return None if user is None else Actor(user.username, user.role, user.scope_grid)


def _scoped(kind: str, body: Any) -> Any:
    """What the logged-in user may see of the fleet (dashboard.scoped): a grid-scoped user their subtree only."""
    user = session.current_user()
    return body if user is None else getattr(scoped, kind)(user, body)


def _patrol_actor(body: Report) -> Actor:
    crew = ", ".join(body.crew)
    # A patrol crew works in the field for the centre, like a grid's staff; the centre is its grid (None).
    return Actor(f"{body.vehicle_id} ({crew})" if crew else str(body.vehicle_id), Role.GRID_STAFF)


blueprint = Blueprint("gridwatch_fleet", __name__)


def _device_or_user() -> bool:
    if _token_ok(current().settings):
        return True
    person = _person()  # with logins off everybody is "anonymous": the token, once set, still counts
    return person is not None and person.name != session.ANONYMOUS.username


@blueprint.post("/api/vehicles/<vehicle_id>/status")
def set_status(vehicle_id: str) -> tuple[Response, int]:
    if not _device_or_user():
        return error(401, "this route needs the vehicles' bearer token (Authorization: Bearer ...)")
    try:
        check_vehicle_id(vehicle_id)
        body = parse_status(json_body(MAX_STATUS_BODY), vehicle_id)
        now = datetime.now(UTC)
        # A car clock running ahead must not freeze its status until the clock's time comes.
        changed_at = min(body.changed_at or now, now)
        outcome = app_services().fleet.set_status(vehicle_id, body.status, changed_at, body.crew, body.shift)
    except (ProtocolError, BadJson, FleetError, TelemetryError) as exc:
        return error(400, str(exc))
    except BodyTooLarge as exc:
        return error(413, str(exc))
    except redis.RedisError as exc:
        log.warning("POST /api/vehicles/%s/status: Redis: %s", vehicle_id, exc)
        return error(503, "vehicle store unavailable; retry later")
    if outcome.applied:
        log.info("crew of %s is %s since %s", vehicle_id, body.status.value, changed_at.isoformat())
    return jsonify({"vehicle_id": vehicle_id, "status": outcome.status, "applied": outcome.applied,
                    "changed_at": None if outcome.changed_at is None else outcome.changed_at.isoformat()}), 200


@blueprint.get("/api/vehicles")
def vehicles() -> tuple[Response, int]:
    try:
        views = app_services().fleet.vehicles(datetime.now(UTC))
    except redis.RedisError as exc:
        log.warning("GET /api/vehicles: Redis: %s", exc)
        return error(503, "vehicle store unavailable; retry later")
    return jsonify(_scoped("vehicles", [v.to_dict() for v in views])), 200


@blueprint.get("/api/coverage")
def coverage() -> tuple[Response, int]:
    day_arg = request.args.get("day")
    try:
        day = date.fromisoformat(day_arg) if day_arg else datetime.now(app_services().fleet.tz).date()
    except ValueError:
        return error(400, f"day: {day_arg!r} is not a date (YYYY-MM-DD)")
    try:
        return jsonify(_scoped("coverage", app_services().fleet.coverage(day))), 200
    except redis.RedisError as exc:
        log.warning("GET /api/coverage: Redis: %s", exc)
        return error(503, "vehicle store unavailable; retry later")


@blueprint.post("/api/reports")
def report() -> tuple[Response, int]:
    try:
        body = parse_report(json_body(MAX_REPORT_BODY))
    except (ProtocolError, BadJson) as exc:
        return error(400, str(exc))
    except BodyTooLarge as exc:
        return error(413, str(exc))
    if body.vehicle_id is not None:
        if not _token_ok(current().settings):
            return error(401, "a patrol car's report needs the vehicles' bearer token (Authorization: Bearer)")
        reporter = _patrol_actor(body)
    else:
        person = _person()
        if person is None and current().settings.auth.required:
            return error(401, "log in to file a report")
        reporter = person or Actor(body.reporter or body.effective_source, Role.OPERATOR)
    return _file(body, reporter)


def _file(body: Report, reporter: Actor) -> tuple[Response, int]:
    """The report as a case, once per ``report_id``: a resend answers what the first one got."""
    if (answered := _filed_before(body)) is not None:
        return answered
    report_id = body.report_id
    now = datetime.now(UTC)
    at = min(body.created_at or now, now)  # a clock running ahead must not date a case in the future
    try:
        result, photo = _report_case(body, reporter, at)
    except PhotoError as exc:
        _abandon(report_id)
        return error(exc.status, f"photo.data_base64: {exc}")
    except (QueryError, OSError) as exc:
        _abandon(report_id)
        log.warning("report %s not filed: %s", report_id, exc)
        return error(503, "cases database or media folder unavailable; retry later")
    route = app_services().cases.router.route(body.lat, body.lon)
    outcome = {"report_id": report_id, "case_id": result.case_id, "new_case": result.new_case,
               "grid_code": route.responsible, "photo_url": None if photo is None else f"/media/{photo}"}
    try:
        if report_id is not None:
            app_services().fleet.finish_report(report_id, outcome, body.vehicle_id)
    except redis.RedisError as exc:
        log.warning("report %s filed as case %s but not remembered (a resend may join the case again): %s",
                    report_id, result.case_id, exc)
    log.info("%s report %s (%s) by %s -> case %s%s", body.effective_source, report_id, body.category,
             reporter.name, result.case_id, " (new)" if result.new_case else "")
    return jsonify(outcome), 201


def _filed_before(body: Report) -> tuple[Response, int] | None:
    """The first answer to this ``report_id`` (503 while it is being filed), or None: file it now (marked pending)."""
    fleet = app_services().fleet
    report_id = body.report_id
    try:
        earlier = fleet.begin_report(report_id) if report_id is not None else None
        if body.vehicle_id is not None:
            fleet.touch(body.vehicle_id)
    except redis.RedisError as exc:
        log.warning("POST /api/reports: Redis: %s", exc)
        return error(503, "report store unavailable; retry later")
    if earlier is None:
        return None
    if earlier.get("pending"):
        return error(503, f"report {report_id} is being filed by another request; retry")
    return jsonify({**earlier, "duplicate": True}), 200


def _report_case(body: Report, reporter: Actor, at: datetime) -> tuple[Ingested, str | None]:
    """The report filed through the case service, with its photo (kept only once the case takes it)."""
    svc = app_services()
    photo = None
    store: AbstractContextManager[object] = contextlib.nullcontext()
    if body.photo is not None:
        checked = report_photo(body.photo)
        photo = photo_relpath(PHOTO_DIR, body.report_id or uuid.uuid4().hex,
                              f"{at.astimezone(svc.fleet.tz).date():%Y/%m/%d}", checked)
        store = stored_when_accepted(current().settings.media_dir, photo, checked)
    with store:
        result = svc.cases.report(body.category, body.lat, body.lon, reporter, body.effective_source,
                                  note=body.note or None, photo_path=photo, at=at)
    return result, photo


def _abandon(report_id: str | None) -> None:
    if report_id is None:
        return
    try:
        app_services().fleet.abandon_report(report_id)
    except redis.RedisError as exc:
        log.warning("report %s: its pending mark stays until it lapses: %s", report_id, exc)


