"""The JSON API of cases: the queue, one case, every workflow action, queries, merge and split, overdue cases,
figures, the monthly assessment, exports, and claims on alerts and cases.

Every route checks on the server who asks (dashboard.auth.session): a user sees and acts only on cases that lie in
their grid subtree (a department user: the cases dispatched to their department), and the workflow's table
decides what their role may do. Answers: 401 without a login, 403 for a role or grid that may not, 404 for
an unknown id, 409 for a transition the case's status does not allow (the workflow's message) or an item
another operator has claimed, 400 for a missing or bad detail.

    GET  /api/cases?status=&grid=&category=&department=&open=&overdue=&from=&to=&limit=&offset=
    GET  /api/cases/<id>                      case, sightings, audit log, queries, allowed actions, claim
    POST /api/cases/<id>/<action>             verify reject register dispatch start handle check close rework
                                              escalate defer resume invalidate (JSON or form: note, reason,
                                              grid, department, staff; a false-alarm reject: verdict_reason
                                              from its category's list; handle: multipart photo)
    POST /api/cases/<id>/queries              file a formal query (质询) on an overdue escalated case
    GET  /api/queries?open=1                  queries of the user's subtree;  POST /api/queries/<n>/answer
    POST /api/cases/merge                     {"into": id, "others": [ids], "note": ...}
    POST /api/cases/<id>/split                {"sightings": [ids], "note": ...}
    GET  /api/cases/overdue?grid=
    GET  /api/figures?grid=&from=&to=|month=  GET /api/figures/grids?level=   GET /api/assessment?month=&level=
    GET  /api/export/figures.csv|xlsx         GET /api/export/assessment.csv|xlsx
    POST|GET|DELETE /api/alerts/<id>/claim, /api/cases/<id>/claim
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request

from alerts import export, verdicts
from alerts.assessment import month_bounds
from alerts.casebook import MAX_PAGE, CaseFilter, CaseView
from alerts.cases import CaseNotFoundError, CaseStateError
from alerts.casework import QueryNotAllowedError, Target
from alerts.models import utc_now
from alerts.repository import check_media_path
from alerts.workflow import (
    Action,
    IllegalTransitionError,
    RejectReason,
    Role,
    RoleNotAllowedError,
    Status,
    WorkflowError,
    allowed_actions,
)
from dashboard.api.common import ApiError, api_translator, app_services, error, fields, flag, int_arg, text, time_arg
from dashboard.auth import guard, policy, session
from dashboard.auth.session import AuthUser
from dashboard.claims import ClaimHeldError, Claims
from dashboard.context import current
from dashboard.page_services import PageServices
from geo.scope import within
from gridwatch.i18n import Translator, category_name
from gridwatch.photos import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    Photo,
    PhotoError,
    check_photo,
    photo_relpath,
    stored_when_accepted,
)

log = logging.getLogger(__name__)

_CENTRE = (Role.OPERATOR, Role.SUPERVISOR)
_ANYONE = tuple(r for r in Role if r != Role.SYSTEM)


# --- plain values ----------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Dataclasses, enums and times as JSON-ready values (times as ISO 8601 with their zone)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _case_json(view: CaseView, t: Translator) -> dict[str, Any]:
    d: dict[str, Any] = plain(view)
    d["category_name"] = category_name(view.category, t.lang)
    return d


# --- who may see what ------------------------------------------------------------------------------------------


def _user() -> AuthUser:
    user = session.current_user()
    if user is None:
        raise ApiError(401, api_translator().gettext("Log in first"))
    return user


def location(view: CaseView) -> str | None:
    """The most specific grid a case lies in (what a scope is compared with)."""
    return policy.case_location(view)


def visible(user: AuthUser, view: CaseView) -> bool:
    return policy.case_visible(user, view)


def _within(user: AuthUser, code: str) -> bool:
    return within(code, user.scope_grid)


def _out_of_scope(t: Translator, user: AuthUser) -> ApiError:
    return ApiError(403, t.gettext("This is outside your grid ({scope})").format(scope=user.scope_grid or "-"))


def _visible_case(api: PageServices, user: AuthUser, case_id: str, t: Translator) -> CaseView:
    try:
        view = api.casework.book.get(case_id)
    except CaseNotFoundError:
        raise ApiError(404, t.gettext("No case {case}").format(case=case_id)) from None
    if not visible(user, view):
        raise _out_of_scope(t, user)
    return view


def _grid_param(api: PageServices, user: AuthUser, raw: str | None, t: Translator) -> str | None:
    """A requested subtree, checked against the map and the user's scope; the user's scope when none asked."""
    if not raw:
        return user.scope_grid
    if raw not in api.router:
        raise ApiError(400, t.gettext("Unknown grid {grid}").format(grid=raw))
    if not _within(user, raw):
        raise _out_of_scope(t, user)
    return raw


# --- request values --------------------------------------------------------------------------------------------


def _verdict_reason(code: str | None, action: str, reason: str | None, category: str, t: Translator) -> str | None:
    """Why a false alarm is one, from the category's short list (alerts.verdicts), as the desk and replay pages
    pick it; checked before anything is stored, the refusal naming the list."""
    if code is None:
        return None
    if action != Action.REJECT or reason != RejectReason.FALSE_ALARM:
        raise ApiError(400, t.gettext("verdict_reason goes only with reject and reason false_alarm"))
    allowed = [r.code for r in verdicts.reasons(category, real=False)]
    if code not in allowed:
        raise ApiError(400, t.gettext("verdict_reason {given} is not one of category {category}: {allowed}").format(
            given=code, category=category, allowed=", ".join(allowed)))
    return code


def _period(api: PageServices) -> tuple[datetime, datetime]:
    """?month=YYYY-MM, or ?from=&to=; default the current month (in the working-day time zone)."""
    tz = ZoneInfo(current().settings.cases.timezone)
    month = request.args.get("month")
    if month:
        try:
            year, mon = (int(p) for p in month.split("-", 1))
            return month_bounds(year, mon, current().settings.cases.timezone)
        except ValueError:
            raise ApiError(400, api_translator().gettext("month must look like 2026-11, got {value}").format(
                value=repr(month))) from None
    start = time_arg(request.args.get("from"), "from", tz)
    end = time_arg(request.args.get("to"), "to", tz, end=True)
    if start is None or end is None:
        now = utc_now().astimezone(tz)
        first, after = month_bounds(now.year, now.month, current().settings.cases.timezone)
        start, end = start or first, end or after
    if end <= start:
        raise ApiError(400, api_translator().gettext("The period must end after it starts"))
    return start, end


def _uploaded_photo() -> Photo | None:
    """A feedback photo sent as multipart ``photo`` (JPEG, PNG or WebP), checked from its header, not yet stored."""
    upload = request.files.get("photo")
    if upload is None:
        return None
    data = upload.stream.read(MAX_PHOTO_BYTES + 1)
    t = api_translator()
    try:
        return check_photo(data)
    except PhotoError as exc:
        if exc.reason == "too_large":
            raise ApiError(413, t.gettext("The photo is larger than {mb} MB").format(mb=MAX_PHOTO_BYTES // 2**20)) \
                from None
        if exc.reason == "too_many_pixels":
            raise ApiError(413, t.gettext("The photo has more than {mp} megapixels").format(
                mp=MAX_PHOTO_PIXELS // 1_000_000)) from None
        raise ApiError(400, t.gettext("The photo must be a JPEG, PNG or WebP image")) from None


def _photo_store(case_id: str, photo: Photo | None, photo_path: str | None) -> AbstractContextManager[str | None]:
    """The uploaded photo, kept under media/feedback/ only once the action is accepted; else an earlier file."""
    if photo is None:
        return contextlib.nullcontext(_existing_media(photo_path))
    rel = photo_relpath("feedback", f"{case_id}-{uuid.uuid4().hex[:8]}", f"{utc_now():%Y/%m/%d}", photo)
    return stored_when_accepted(current().settings.media_dir, rel, photo)


def _existing_media(rel: str | None) -> str | None:
    if rel is None:
        return None
    rel = rel.removeprefix("/media/")
    try:
        check_media_path(rel)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if not (current().settings.media_dir / rel).is_file():
        raise ApiError(400, api_translator().gettext("No media file {path}").format(path=rel))
    return rel


# --- the blueprint ---------------------------------------------------------------------------------------------


def _claims() -> Claims:
    ctx = current()
    return Claims(ctx.redis, ctx.settings.auth.claim_seconds)


def _error_response(exc: Exception) -> tuple[Response, int]:
    if isinstance(exc, ApiError):
        return error(exc.status, exc.message)
    if isinstance(exc, ClaimHeldError):
        h = exc.holder
        t = api_translator()
        kind = t.gettext("case") if h.kind == "case" else t.gettext("alert")
        message = t.gettext("{name} ({user}) is working on this {kind} until {until}; try again later").format(
            name=h.display_name, user=h.username, kind=kind, until=h.as_dict()["until"])
        return jsonify({"error": message, "claimed_by": h.as_dict()}), 409
    if isinstance(exc, CaseNotFoundError):
        return jsonify({"error": str(exc)}), 404
    if isinstance(exc, RoleNotAllowedError):
        return jsonify({"error": str(exc)}), 403
    if isinstance(exc, IllegalTransitionError | QueryNotAllowedError | CaseStateError):
        return jsonify({"error": str(exc)}), 409
    return jsonify({"error": str(exc)}), 400  # a missing or bad detail (WorkflowError, ValueError)


blueprint = Blueprint("gridwatch_cases", __name__)


@blueprint.errorhandler(ApiError)
@blueprint.errorhandler(ClaimHeldError)
@blueprint.errorhandler(WorkflowError)
@blueprint.errorhandler(CaseNotFoundError)
def _errors(exc: Exception) -> tuple[Response, int]:
    return _error_response(exc)


@blueprint.get("/api/cases")
@guard.require(*_ANYONE)
def list_cases() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    tz = ZoneInfo(current().settings.cases.timezone)
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    bad = [s for s in statuses if s not in set(Status)]
    if bad:
        raise ApiError(400, t.gettext("Unknown status {status}").format(status=", ".join(bad)))
    department = request.args.get("department") or None
    if user.role == Role.DEPARTMENT and user.department is not None:
        department = user.department
    f = CaseFilter(
        statuses=statuses, open_only=flag("open"),
        grid=_grid_param(a, user, request.args.get("grid"), t),
        assignee_grid=request.args.get("assignee_grid") or None, department=department,
        category=request.args.get("category") or None,
        overdue_only=flag("overdue"),
        possibly_resolved_only=flag("possibly_resolved"),
        reported_from=time_arg(request.args.get("from"), "from", tz),
        reported_to=time_arg(request.args.get("to"), "to", tz, end=True),
        limit=int_arg(request.args.get("limit"), "limit", 50, 1, MAX_PAGE),
        offset=int_arg(request.args.get("offset"), "offset", 0, 0, 10**9),
    )
    items = a.casework.book.queue(f)
    return jsonify({"total": a.casework.book.count(f), "limit": f.limit, "offset": f.offset,
                    "items": [_case_json(v, t) for v in items]})


@blueprint.get("/api/cases/overdue")
@guard.require(*_ANYONE)
def overdue() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    grid = _grid_param(a, user, request.args.get("grid"), t)
    limit = int_arg(request.args.get("limit"), "limit", 100, 1, MAX_PAGE)
    views = [v for v in a.casework.overdue(grid=grid, limit=limit) if visible(user, v)]
    return jsonify([_case_json(v, t) for v in views])


@blueprint.get("/api/cases/<case_id>")
@guard.require(*_ANYONE)
def case_detail(case_id: str) -> Response:
    a, user, t = app_services(), _user(), api_translator()
    _visible_case(a, user, case_id, t)
    detail = a.casework.book.detail(case_id)
    holder = _claims().holder("case", case_id)
    body = {
        "case": _case_json(detail.case, t), "sightings": plain(detail.sightings),
        "history": plain(detail.history), "queries": plain(detail.queries),
        "allowed_actions": [str(x) for x in allowed_actions(detail.case.status,
                                                             None if user.role == Role.ADMIN else user.role)],
        "claimed_by": holder.as_dict() if holder else None,
    }
    return jsonify(body)


@blueprint.post("/api/cases/<case_id>/<action>")
@guard.require(*_ANYONE)
def act(case_id: str, action: str) -> tuple[Response, int]:
    a, user, t = app_services(), _user(), api_translator()
    if action not in set(Action):
        raise ApiError(404, t.gettext("No such action {action}").format(action=action))
    view = _visible_case(a, user, case_id, t)
    if not policy.holder_may(user, view, action):
        # Escalated above the user's grid: the parent grid acts on it now, not the grid that asked for help.
        raise ApiError(403, t.gettext("Grid {grid} holds this case now; your grid is {scope}").format(
            grid=view.assignee_grid, scope=user.scope_grid))
    _claims().check_free_for("case", case_id, user.username)
    body = fields()
    grid = text(body, "grid")
    if grid is not None and not _within(user, grid):
        raise _out_of_scope(t, user)
    target = Target(grid=grid, department=text(body, "department"), staff=text(body, "staff"))
    upload = _uploaded_photo() if action == Action.HANDLE else None
    reason = text(body, "reason")
    why = _verdict_reason(text(body, "verdict_reason"), action, reason, view.category, t)
    with _photo_store(case_id, upload, text(body, "photo_path")) as photo:
        view = a.casework.apply(case_id, action, session.current_actor(), note=text(body, "note"),
                            reason=reason, target=target, photo_path=photo, verdict_reason=why)
    return jsonify(_case_json(view, t)), 200


@blueprint.post("/api/cases/<case_id>/queries")
@guard.require(Role.GRID_STAFF, Role.SUPERVISOR)
def file_query(case_id: str) -> tuple[Response, int]:
    a, user, t = app_services(), _user(), api_translator()
    _visible_case(a, user, case_id, t)
    question = text(fields(), "question") or ""
    return jsonify(plain(a.casework.file_query(case_id, session.current_actor(), question))), 201


@blueprint.get("/api/queries")
@guard.require(*_ANYONE)
def queries() -> Response:
    a, user = app_services(), _user()
    found = a.casework.book.queries(open_only=flag("open"))
    mine = [q for q in found if within(q.to_grid, user.scope_grid)
            or within(q.filed_grid, user.scope_grid)]
    return jsonify(plain(mine))


@blueprint.post("/api/queries/<int:query_id>/answer")
@guard.require(Role.GRID_STAFF, Role.SUPERVISOR)
def answer_query(query_id: int) -> Response:
    a = app_services()
    answer = text(fields(), "answer") or ""
    return jsonify(plain(a.casework.answer_query(query_id, session.current_actor(), answer)))


@blueprint.post("/api/cases/merge")
@guard.require(*_CENTRE)
def merge() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    body = fields()
    into = text(body, "into")
    others = body.get("others")
    if into is None or not isinstance(others, list) or not all(isinstance(o, str) for o in others):
        raise ApiError(400, t.gettext("Send into (a case id) and others (a list of case ids)"))
    claims = _claims()
    for cid in [into, *others]:
        _visible_case(a, user, cid, t)
        claims.check_free_for("case", cid, user.username)
    a.cases.merge(into, others, session.current_actor(), text(body, "note"))
    return jsonify(_case_json(a.casework.book.get(into), t))


@blueprint.post("/api/cases/<case_id>/split")
@guard.require(*_CENTRE)
def split(case_id: str) -> tuple[Response, int]:
    a, user, t = app_services(), _user(), api_translator()
    _visible_case(a, user, case_id, t)
    _claims().check_free_for("case", case_id, user.username)
    body = fields()
    ids = body.get("sightings")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApiError(400, t.gettext("Send sightings: a list of sighting ids"))
    new_id = a.cases.split(case_id, ids, session.current_actor(), text(body, "note"))
    return jsonify({"case": _case_json(a.casework.book.get(case_id), t),
                    "new_case": _case_json(a.casework.book.get(new_id), t)}), 201


# --- figures, assessment, export -----------------------------------------------------------------------------


def _figure_rows(a: PageServices, user: AuthUser, t: Translator) -> tuple[list[Any], dict[str, str]]:
    grid = _grid_param(a, user, request.args.get("grid"), t)
    start, end = _period(a)
    rows = [a.figures.figures(grid, start, end)]
    level = request.args.get("level")
    if level:
        lvl = int_arg(level, "level", 3, 1, 3)
        codes = [c for c in a.router.codes(lvl) if within(c, grid)]
        if codes:
            rows += a.figures.figures_by_grid(lvl, start, end, codes=codes)
    names = {c: a.router.feature(c).name for c in a.router.codes()}
    return rows, names


@blueprint.get("/api/figures")
@guard.require(*_ANYONE)
def figures() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    rows, names = _figure_rows(a, user, t)
    out = []
    for f in rows:
        d = f.as_dict()
        d["grid_name"] = names.get(f.grid_code or "", "")
        d["invariant_holds"] = f.collected == f.dispatched + f.escalated + f.pending
        out.append(d)
    return jsonify(out[0] if len(out) == 1 and not request.args.get("level") else out)


@blueprint.get("/api/figures/grids")
@guard.require(*_ANYONE)
def figures_by_grid() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    grid = _grid_param(a, user, request.args.get("grid"), t)
    lvl = int_arg(request.args.get("level"), "level", 3, 1, 3)
    start, end = _period(a)
    codes = [c for c in a.router.codes(lvl) if within(c, grid)]
    rows = a.figures.figures_by_grid(lvl, start, end, codes=codes) if codes else []
    return jsonify([{**f.as_dict(), "grid_name": a.router.feature(f.grid_code or "").name} for f in rows])


def _scores(a: PageServices, user: AuthUser, t: Translator) -> list[Any]:
    month = request.args.get("month")
    if month:
        try:
            year, mon = (int(p) for p in month.split("-", 1))
            month_bounds(year, mon)
        except ValueError:
            raise ApiError(400, t.gettext("month must look like 2026-11, got {value}").format(
                value=repr(month))) from None
    else:
        now = utc_now().astimezone(ZoneInfo(current().settings.cases.timezone))
        year, mon = now.year, now.month
    lvl = int_arg(request.args.get("level"), "level", 3, 1, 3)
    grid = _grid_param(a, user, request.args.get("grid"), t)
    return [s for s in a.assessor.assess_month(year, mon, level=lvl)
            if within(s.grid_code, grid)]


@blueprint.get("/api/assessment")
@guard.require(*_ANYONE)
def assessment() -> Response:
    a, user, t = app_services(), _user(), api_translator()
    return jsonify([s.as_dict() for s in _scores(a, user, t)])


def _export_lang(t: Translator) -> str:
    return "en" if t.lang == "en" else "zh"


def _download(data: bytes, name: str, fmt: str) -> Response:
    mime = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(data, mimetype=mime)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@blueprint.get("/api/export/figures.<fmt>")
@guard.require(*_ANYONE)
def export_figures(fmt: str) -> Response:
    a, user, t = app_services(), _user(), api_translator()
    if fmt not in ("csv", "xlsx"):
        raise ApiError(404, t.gettext("Export as csv or xlsx"))
    rows, names = _figure_rows(a, user, t)
    table = export.figures_table(rows, names, _export_lang(t))
    data = export.csv_bytes(table) if fmt == "csv" else export.xlsx_bytes({t.gettext("figures"): table})
    return _download(data, "figures", fmt)


@blueprint.get("/api/export/assessment.<fmt>")
@guard.require(*_ANYONE)
def export_assessment(fmt: str) -> Response:
    a, user, t = app_services(), _user(), api_translator()
    if fmt not in ("csv", "xlsx"):
        raise ApiError(404, t.gettext("Export as csv or xlsx"))
    table = export.assessment_table(_scores(a, user, t), _export_lang(t))
    data = export.csv_bytes(table) if fmt == "csv" else export.xlsx_bytes({t.gettext("assessment"): table})
    return _download(data, "assessment", fmt)


# --- claims ------------------------------------------------------------------------------------------------------


def _claim_target(kind: str, item_id: str) -> None:
    a, user, t = app_services(), _user(), api_translator()
    if kind == "case":
        _visible_case(a, user, item_id, t)
        return
    get_alert = getattr(current().repo, "get_alert", None)
    alert = get_alert(item_id) if get_alert is not None else None
    if alert is None:
        raise ApiError(404, t.gettext("No alert {alert}").format(alert=item_id))
    if not session.in_scope(alert.grid_code):
        raise _out_of_scope(t, user)


def claim(kind: str, item_id: str) -> Response:
    user = _user()
    _claim_target(kind, item_id)
    return jsonify(_claims().claim(kind, item_id, user.username, user.display_name).as_dict())


def claim_holder(kind: str, item_id: str) -> Response:
    _claim_target(kind, item_id)
    holder = _claims().holder(kind, item_id)
    return jsonify(holder.as_dict() if holder else None)


def release_claim(kind: str, item_id: str) -> Response:
    user = _user()
    _claim_target(kind, item_id)
    force = user.role in (Role.SUPERVISOR, Role.ADMIN)
    return jsonify({"released": _claims().release(kind, item_id, user.username, force=force)})


# One rule per kind and method; the kind comes in as the rule's default argument.
for _kind, _prefix in (("alert", "/api/alerts"), ("case", "/api/cases")):
    _rule = f"{_prefix}/<item_id>/claim"
    for _suffix, _view, _method in (("", claim, "POST"), ("_show", claim_holder, "GET"),
                                    ("_drop", release_claim, "DELETE")):
        blueprint.add_url_rule(_rule, f"claim_{_kind}{_suffix}", guard.require(*_ANYONE)(_view), methods=[_method],
                               defaults={"kind": _kind})
