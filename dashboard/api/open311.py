"""Open311 GeoReport v2: civic-reporting apps file problems into the same case flow and follow them.

    GET  /open311/v2/services.json                 the issue categories (gridwatch.categories)
    POST /open311/v2/requests.json                 form-encoded: service_code, lat, long, description,
                                                   media_url (optional), api_key (when auth.open311_api_key is set)
    GET  /open311/v2/requests.json                 requests filed through Open311 (service_request_id=a,b,
                                                   service_code, status=open|closed, start_date, end_date)
    GET  /open311/v2/requests/<id>.json            one request's status

A request becomes a report (``CaseService.report(source="open311")``): near an open case of the same category
it joins that case, like a second sighting, and the answer names that case. Status follows the spec: "open"
while the case is in the workflow, "closed" once it is closed, rejected (false alarm, duplicate) or invalid;
``status_notes`` says which. A request merged into another case reports that case's status. Errors are the
spec's list of {"code", "description"}. These routes take no login (apps have none), so they show only what the
filer sent: a ``service_request_id`` is the case id signed for Open311 (``<case>-<signature>``), which only this
API hands out; an internal case's id, or a made-up one, is 404. The description is the filer's own (never a
note of the centre's) and the position is rounded to 3 decimals (about 100 m). The list holds only cases that
came in through Open311: at most ``page_size`` (50, up to 100; the queue's most urgent first, shown newest
first), from one LIMITed query.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from alerts.casebook import CaseBook, CaseFilter, CaseView
from alerts.cases import CaseNotFoundError
from alerts.models import utc_now
from alerts.workflow import Actor, Role, Status
from dashboard.api.common import api_translator, app_services
from dashboard.context import current
from geo.routing import GridRouter
from gridwatch.categories import CATEGORIES

log = logging.getLogger(__name__)

SOURCE = "open311"
MAX_DESCRIPTION = 4000
MAX_LIST = 100
DEFAULT_LIST = 50
DEFAULT_DAYS = 90  # the spec's default window for a list without dates
_MERGE_HOPS = 5
POSITION_DECIMALS = 3  # about 100 m: where the problem is, not whose doorstep the filer stood on
_SIGNATURE_HEX = 24


class RequestIds:
    """Open311 request ids: a case id with an HMAC of it, so the anonymous API resolves only ids it handed out."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"gridwatch-open311\0" + secret.encode()).digest()

    def _signature(self, case_id: str) -> str:
        return hmac.new(self._key, case_id.encode(), hashlib.sha256).hexdigest()[:_SIGNATURE_HEX]

    def issue(self, case_id: str) -> str:
        return f"{case_id}-{self._signature(case_id)}"

    def case_of(self, request_id: str) -> str | None:
        """The case behind a request id, or None for anything this API did not hand out."""
        case_id, _, signature = request_id.rpartition("-")
        if not case_id or not hmac.compare_digest(signature.encode(), self._signature(case_id).encode()):
            return None
        return case_id


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _float(name: str, low: float, high: float) -> float:
    raw = request.form.get(name) or request.args.get(name)
    t = api_translator()
    if raw is None or raw.strip() == "":
        raise Open311Error(400, t.gettext("{field} is required").format(field=name))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise Open311Error(400, t.gettext("{field} must be a number from {low} to {high}, got {value}").format(
            field=name, low=low, high=high, value=repr(raw)))
    return value


def _status(view: CaseView) -> tuple[str, str]:
    """The spec's open/closed and a note of our status in words."""
    t = api_translator()
    if view.status == Status.CLOSED:
        return "closed", t.gettext("The problem was handled and the case closed.")
    if view.status == Status.REJECTED:
        if view.drop_reason == "duplicate":
            return "closed", t.gettext("Closed as a duplicate of another report.")
        return "closed", t.gettext("Closed: no problem was found there.")
    if view.status == Status.INVALID:
        return "closed", t.gettext("Closed as invalid.")
    if view.status in (Status.REPORTED, Status.VERIFIED):
        return "open", t.gettext("Received; the command centre is checking it.")
    if view.status == Status.DEFERRED:
        return "open", t.gettext("Deferred for now.")
    if view.status in (Status.HANDLED, Status.CHECKED):
        return "open", t.gettext("Handled; the result is being checked.")
    return "open", t.gettext("Being handled.")


def _updated(view: CaseView) -> datetime:
    times = [view.reported_at, view.last_seen, view.verified_at, view.registered_at, view.dispatched_at,
             view.escalated_at, view.handled_at, view.closed_at]
    return max(x for x in times if x is not None)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


blueprint = Blueprint("gridwatch_open311", __name__)


def _ids() -> RequestIds:
    # Signed with the session key (read once by the guard's init_auth, not from data_dir per request): every
    # dashboard behind one address signs alike.
    return RequestIds(str(current_app.secret_key))


@blueprint.errorhandler(Open311Error)
def _error(exc: Open311Error) -> tuple[Response, int]:
    return jsonify([{"code": exc.code, "description": exc.description}]), exc.code


def _resolve_request(book: CaseBook, request_id: str) -> tuple[str, CaseView] | None:
    case_id = _ids().case_of(request_id)
    view = None if case_id is None else _resolve(book, case_id)
    return None if case_id is None or view is None else (case_id, view)


def _resolve(book: CaseBook, case_id: str) -> CaseView | None:
    try:
        view = book.get(case_id)
    except CaseNotFoundError:
        return None
    for _ in range(_MERGE_HOPS):
        if view.merged_into is None:
            break
        view = book.get(view.merged_into)
    return view


def _request_json(book: CaseBook, r: GridRouter, case_id: str, view: CaseView) -> dict[str, Any]:
    status, notes = _status(view)
    cat = CATEGORIES.get(view.category)
    t = api_translator()
    agency = None
    if view.assignee_grid is not None and view.assignee_grid in r:
        agency = r.feature(view.assignee_grid).name
    if view.department is not None:
        agency = view.department
    # The filer's own words only: the report Open311 filed, never a note the centre wrote.
    description = next((h.note for h in book.history(case_id)
                        if h.action == "report" and h.actor == SOURCE and h.note), None)
    return {
        "service_request_id": _ids().issue(case_id),
        "status": status,
        "status_notes": notes,
        "service_name": (cat.name_en if t.lang == "en" else cat.name_zh) if cat else view.category,
        "service_code": view.category,
        "description": description,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _iso(view.reported_at),
        "updated_datetime": _iso(_updated(view)),
        "expected_datetime": _iso(view.due_at),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None if view.lat is None else round(view.lat, POSITION_DECIMALS),
        "long": None if view.lon is None else round(view.lon, POSITION_DECIMALS),
        "media_url": None,
    }


@blueprint.get("/open311/v2/services.json")
def services() -> Response:
    t = api_translator()
    group = t.gettext("Street order")
    return jsonify([
        {"service_code": c.code, "service_name": c.name_en if t.lang == "en" else c.name_zh,
         "description": c.name_en if t.lang == "en" else f"{c.name_zh} ({c.name_en})",
         "metadata": False, "type": "realtime", "keywords": "", "group": group}
        for c in CATEGORIES.values()
    ])


@blueprint.post("/open311/v2/requests.json")
def create() -> tuple[Response, int]:
    t = api_translator()
    key = current().settings.auth.open311_api_key
    if key is not None:
        given = (request.form.get("api_key") or request.args.get("api_key") or "").encode()
        if not hmac.compare_digest(given, key.get_secret_value().encode()):
            raise Open311Error(403, t.gettext("api_key is missing or wrong"))
    code = request.form.get("service_code") or ""
    if code not in CATEGORIES:
        raise Open311Error(400, t.gettext("service_code must be one of {codes}, got {value}").format(
            codes=", ".join(CATEGORIES), value=repr(code)))
    lat = _float("lat", -90, 90)
    lon = _float("long", -180, 180)
    description = (request.form.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, t.gettext("description is longer than {n} characters").format(
            n=MAX_DESCRIPTION))
    media_url = (request.form.get("media_url") or "").strip()
    if media_url and not media_url.startswith(("http://", "https://")):
        raise Open311Error(400, t.gettext("media_url must be an http or https URL"))
    # The photo stays where the app keeps it (nothing is fetched from outside); its link goes with the note.
    note = "\n".join(x for x in (description, media_url and f"media: {media_url}") if x) or None
    result = app_services().cases.report(code, lat, lon, Actor(SOURCE, Role.SYSTEM), source=SOURCE, note=note)
    log.info("open311 request for %s at (%.5f, %.5f) -> case %s (%s)", code, lat, lon, result.case_id,
             "new" if result.new_case else "joined")
    notice = t.gettext("Received.") if result.new_case else t.gettext(
        "Received; the same problem was already reported here, so your report joins that one.")
    return jsonify([{"service_request_id": _ids().issue(result.case_id), "service_notice": notice,
                     "account_id": None}]), 201


@blueprint.get("/open311/v2/requests/<case_id>.json")  # the path keeps its name (dashboard.auth.policy's table)
def one(case_id: str) -> Response:
    svc = app_services()
    book, r = svc.book, svc.router
    found = _resolve_request(book, case_id)  # a request id: the case id signed for Open311
    if found is None:
        raise Open311Error(404, api_translator().gettext("No request {id}").format(id=case_id[:80]))
    return jsonify([_request_json(book, r, *found)])


@blueprint.get("/open311/v2/requests.json")
def many() -> Response:
    svc = app_services()
    book, r = svc.book, svc.router
    t = api_translator()
    asked = [i for i in (request.args.get("service_request_id") or "").split(",") if i]
    out: list[dict[str, Any]] = []
    if asked:
        for request_id in asked[:MAX_LIST]:
            found = _resolve_request(book, request_id)
            if found is not None:
                out.append(_request_json(book, r, *found))
        return jsonify(out)
    try:
        page_size = int(request.args.get("page_size") or DEFAULT_LIST)
    except ValueError:
        page_size = -1
    if not 1 <= page_size <= MAX_LIST:
        raise Open311Error(400, t.gettext("page_size must be a whole number from 1 to {n}").format(n=MAX_LIST))
    try:
        end = _date_arg("end_date") or utc_now()
        start = _date_arg("start_date") or end - timedelta(days=DEFAULT_DAYS)
    except ValueError as exc:
        raise Open311Error(400, t.gettext("start_date and end_date must be ISO 8601 times: {error}").format(
            error=exc)) from None
    code = request.args.get("service_code") or None
    wanted = request.args.get("status")
    if wanted not in (None, "", "open", "closed"):
        raise Open311Error(400, t.gettext("status must be open or closed"))
    for view in book.queue(CaseFilter(category=code, reported_from=start, reported_to=end, source=SOURCE,
                                      limit=page_size)):
        shown = _resolve(book, view.id) or view
        item = _request_json(book, r, view.id, shown)
        if not wanted or item["status"] == wanted:
            out.append(item)
    out.sort(key=lambda x: x["requested_datetime"] or "", reverse=True)
    return jsonify(out)


def _date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
