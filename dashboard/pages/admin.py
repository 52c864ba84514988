"""The admin page at /admin: cameras (add, switch off, remove), the grid map (upload a GeoJSON, watch the
import's progress, read every validation problem by feature), users (add, change role and scope) and learning
from the operators' verdicts (what `gridwatch learn` does, with its progress and each category's result)."""
from __future__ import annotations

import logging
from typing import Any

import dash
import flask
import redis
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from alerts.users import UserError, UserStore
from alerts.verdict_learning import Outcome
from alerts.workflow import Role
from dashboard import admin_learn, admin_queries, ids, page_services
from dashboard.context import current
from dashboard.frame import (
    PAGE_ROLES,
    PageStart,
    callback_user,
    data_attrs,
    header,
    locale_translator,
    message,
    register_page,
    role_layout,
)
from dashboard.texts import role_label
from geo.grids import GridError
from gridwatch.i18n import N_, Translator, category_name
from ingest.registry import RegistryError

log = logging.getLogger(__name__)

PATH = "/admin"
ROLES = PAGE_ROLES[PATH]
TITLE = N_("Administration")
POLL_MS = 500
DATUMS = ("wgs84", "gcj02", "bd09", "cgcs2000")
_STAGES = {
    "queued": N_("Waiting to start"), "reading": N_("Reading the file"), "checking": N_("Checking features"),
    "storing": N_("Storing the grid map"), "done": N_("Imported"), "failed": N_("Not imported"),
}


register_page(__name__, PATH, "Admin", TITLE, "GridWatch administration")


def _store() -> UserStore:
    return UserStore(page_services.current().repo.engine)


@role_layout(PATH, TITLE)
def layout(start: PageStart, _query: dict[str, Any]) -> html.Div:
    t, title, user = start.t, start.title, start.user
    settings = current().settings
    roles = [r for r in Role if r != Role.SYSTEM]
    return html.Div(id=ids.ADMIN_ROOT, className="gw-page gw-admin", children=[
        dcc.Store(id=ids.ADMIN_LOCALE, data={"lang": t.lang}),
        dcc.Store(id=ids.ADMIN_GRID_JOB),
        dcc.Interval(id=ids.ADMIN_GRID_TICK, interval=POLL_MS, disabled=True),
        header(t, title, user, PATH),
        html.Main(className="gw-admin-main", children=[
            html.Section(className="gw-panel", children=[
                html.H2(t.gettext("Cameras"), className="gw-panel-title"),
                html.Div(cameras_children(t), id=ids.ADMIN_CAMERAS),
                html.Div(className="gw-form-row", children=[
                    dcc.Input(id=ids.ADMIN_CAM_ID, placeholder=t.gettext("id, e.g. car-7"), className="gw-input"),
                    dcc.Input(id=ids.ADMIN_CAM_NAME, placeholder=t.gettext("Name"), className="gw-input"),
                    dcc.Input(id=ids.ADMIN_CAM_URL, placeholder="rtsp://user:password@host/path", className="gw-input"),
                    html.Button(t.gettext("Add camera"), id=ids.ADMIN_CAM_ADD, n_clicks=0,
                                className="gw-btn gw-btn-go"),
                ]),
                html.Div(id=ids.ADMIN_CAM_MESSAGE),
            ]),
            html.Section(className="gw-panel", children=[
                html.H2(t.gettext("Grid map"), className="gw-panel-title"),
                html.Div(t.gettext("Upload a GeoJSON FeatureCollection: code, name, level (1-3), parent, leader. "
                                   "It replaces the current map only if every feature is valid."), className="gw-hint"),
                html.Div(className="gw-form-row", children=[
                    html.Label([t.gettext("Datum of the file"), dcc.Dropdown(
                        id=ids.ADMIN_GRID_DATUM, options=list(DATUMS), value=settings.locale.grids_datum,
                        clearable=False, className="gw-dropdown")]),
                    dcc.Upload(id=ids.ADMIN_GRID_UPLOAD, accept=".geojson,.json,application/json",
                               className="gw-staff-upload", children=html.Div(t.gettext("Choose a GeoJSON file"))),
                ]),
                html.Div(id=ids.ADMIN_GRID_PROGRESS),
                html.Div(id=ids.ADMIN_GRID_RESULT),
            ]),
            html.Section(className="gw-panel", children=[
                html.H2(t.gettext("Users and roles"), className="gw-panel-title"),
                html.Div(users_children(t), id=ids.ADMIN_USERS),
                html.Div(className="gw-form-row", children=[
                    dcc.Input(id=ids.ADMIN_USER_NAME, placeholder=t.gettext("Username"), className="gw-input"),
                    dcc.Input(id=ids.ADMIN_USER_DISPLAY, placeholder=t.gettext("Display name"), className="gw-input"),
                    dcc.Input(id=ids.ADMIN_USER_PASSWORD, type="password", placeholder=t.gettext("Password (new user)"),
                              className="gw-input"),
                    dcc.Dropdown(id=ids.ADMIN_USER_ROLE, options=[{"label": role_label(r, t), "value": r.value}
                                                                  for r in roles],
                                 value=Role.OPERATOR.value, clearable=False, className="gw-dropdown"),
                    dcc.Input(id=ids.ADMIN_USER_SCOPE, placeholder=t.gettext("Grid scope (empty = all)"),
                              className="gw-input"),
                    html.Button(t.gettext("Add user"), id=ids.ADMIN_USER_ADD, n_clicks=0, className="gw-btn gw-btn-go"),
                    html.Button(t.gettext("Change role and scope"), id=ids.ADMIN_USER_CHANGE, n_clicks=0,
                                className="gw-btn"),
                ]),
                html.Div(id=ids.ADMIN_USER_MESSAGE),
            ]),
            learn_section(t),
        ]),
    ])


def _table(head: list[str], rows: list[list[Any]]) -> html.Table:
    return html.Table(className="gw-table", children=[
        html.Thead(html.Tr([html.Th(h) for h in head])),
        html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows]),
    ])


def cameras_children(t: Translator) -> Any:
    ctx = current()
    try:
        cams = admin_queries.list_cameras(admin_queries.registry(ctx.settings, ctx.redis))
    except RegistryError as exc:
        log.warning("admin: camera registry unreadable: %s", exc)
        return message(t.gettext("The camera registry is unreadable; see the server log"), "error")
    if not cams:
        return html.Div(t.gettext("No cameras"), className="gw-empty")
    return _table(
        [t.gettext("Id"), t.gettext("Name"), t.gettext("Stream"), t.gettext("On"), ""],
        [[c["id"], c["name"], c["url"], "✓" if c.get("enabled", True) else "—",
          html.Button(t.gettext("Remove"), id={"type": ids.ADMIN_CAM_REMOVE, "camera": c["id"]}, n_clicks=0,
                      className="gw-btn gw-btn-bad")] for c in cams],
    )


def users_children(t: Translator) -> Any:
    users = admin_queries.list_users(_store())
    return _table(
        [t.gettext("Username"), t.gettext("Display name"), t.gettext("Role"), t.gettext("Grid scope"),
         t.gettext("Active")],
        [[u.username, u.display_name, role_label(u.role, t), u.scope_grid or t.gettext("whole territory"),
          "✓" if u.active else "—"] for u in users],
    )


@dash.callback(
    Output(ids.ADMIN_CAMERAS, "children"),
    Output(ids.ADMIN_CAM_MESSAGE, "children"),
    Input(ids.ADMIN_CAM_ADD, "n_clicks"),
    Input({"type": ids.ADMIN_CAM_REMOVE, "camera": ALL}, "n_clicks"),
    State(ids.ADMIN_CAM_ID, "value"),
    State(ids.ADMIN_CAM_NAME, "value"),
    State(ids.ADMIN_CAM_URL, "value"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def cameras(_add: int, _remove: list[int | None], cam_id: str | None, name: str | None, url: str | None,
            locale: dict[str, Any] | None) -> Any:
    if not any(x.get("value") for x in dash.ctx.triggered):
        raise PreventUpdate
    callback_user(PATH)
    t = locale_translator(locale)
    ctx = current()
    reg = admin_queries.registry(ctx.settings, ctx.redis)
    which = dash.ctx.triggered_id
    try:
        if which == ids.ADMIN_CAM_ADD:
            cam = admin_queries.add_camera(reg, cam_id or "", name or "", url or "")
            text = t.gettext("Camera {camera} added").format(camera=cam["id"])
        elif isinstance(which, dict):
            admin_queries.remove_camera(reg, str(which["camera"]))
            text = t.gettext("Camera {camera} removed").format(camera=which["camera"])
        else:
            raise PreventUpdate
    except RegistryError as exc:
        return dash.no_update, message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error")
    return cameras_children(t), message(text, "ok")


@dash.callback(
    Output(ids.ADMIN_GRID_JOB, "data"),
    Output(ids.ADMIN_GRID_TICK, "disabled"),
    Output(ids.ADMIN_GRID_RESULT, "children"),
    Input(ids.ADMIN_GRID_UPLOAD, "contents"),
    State(ids.ADMIN_GRID_DATUM, "value"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def upload_grids(contents: str | None, datum: str | None, locale: dict[str, Any] | None) -> Any:
    if not contents:
        raise PreventUpdate
    callback_user(PATH)
    t = locale_translator(locale)
    ctx = current()
    server = flask.current_app._get_current_object()  # type: ignore[attr-defined]  # the thread outlives the request
    try:
        data = admin_queries.decode_upload(contents)
    except GridError as exc:
        return None, True, problems_table(t, exc.problems)
    svc = page_services.current()
    job = admin_queries.start_import(ctx.redis, svc.repo, data, datum or "wgs84",
                                     on_done=lambda: page_services.reload_grids(server))
    return job, False, None


def problems_table(t: Translator, problems: list[str]) -> Any:
    rows = admin_queries.problem_rows(problems)
    return html.Div(className="gw-grid-problems", children=[
        message(t.gettext("Problems found: {n}; nothing was imported").format(n=t.number(len(rows))), "error"),
        _table([t.gettext("Feature"), t.gettext("Problem")], [[w, p] for w, p in rows]),
    ])


@dash.callback(
    Output(ids.ADMIN_GRID_PROGRESS, "children"),
    Output(ids.ADMIN_GRID_TICK, "disabled", allow_duplicate=True),
    Output(ids.ADMIN_GRID_RESULT, "children", allow_duplicate=True),
    Input(ids.ADMIN_GRID_TICK, "n_intervals"),
    State(ids.ADMIN_GRID_JOB, "data"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def import_progress(_n: int | None, job: str | None, locale: dict[str, Any] | None) -> Any:
    if not job:
        raise PreventUpdate
    callback_user(PATH)
    t = locale_translator(locale)
    try:
        status = admin_queries.import_status(current().redis, job)
    except redis.RedisError as exc:
        log.warning("admin: import progress unavailable: %s", exc)
        return dash.no_update, dash.no_update, dash.no_update
    if status is None:
        return message(t.gettext("The import job is gone"), "error"), True, dash.no_update
    stage = t.gettext(_STAGES.get(status.stage, status.stage))
    if status.stage == "checking" and status.total:
        stage += f" {t.number(status.done)}/{t.number(status.total)}"
    bar = html.Div(className="gw-progress-box", children=[
        html.Progress(value=str(status.percent), max="100", className="gw-progress", id="admin-grid-bar"),
        html.Span(f"{stage} · {status.percent}%", className="gw-hint", id="admin-grid-stage"),
    ])
    finished = status.stage in ("done", "failed")
    result: Any = dash.no_update
    if status.stage == "done":
        result = message(t.gettext("{n} grids imported").format(n=t.number(status.imported)), "ok")
    elif status.stage == "failed":
        result = problems_table(t, status.problems)
    return bar, finished, result


@dash.callback(
    Output(ids.ADMIN_USERS, "children"),
    Output(ids.ADMIN_USER_MESSAGE, "children"),
    Input(ids.ADMIN_USER_ADD, "n_clicks"),
    Input(ids.ADMIN_USER_CHANGE, "n_clicks"),
    State(ids.ADMIN_USER_NAME, "value"),
    State(ids.ADMIN_USER_DISPLAY, "value"),
    State(ids.ADMIN_USER_PASSWORD, "value"),
    State(ids.ADMIN_USER_ROLE, "value"),
    State(ids.ADMIN_USER_SCOPE, "value"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def users(_add: int, _change: int, username: str | None, display: str | None, password: str | None,
          role: str | None, scope: str | None, locale: dict[str, Any] | None) -> Any:
    if not any(x.get("value") for x in dash.ctx.triggered):
        raise PreventUpdate
    admin = callback_user(PATH)
    t = locale_translator(locale)
    store = _store()
    try:
        if dash.ctx.triggered_id == ids.ADMIN_USER_ADD:
            u = admin_queries.add_user(store, username or "", password or "", role or "", display, scope, None)
            text = t.gettext("User {user} added").format(user=u.username)
        else:
            u = admin_queries.change_user(store, (username or "").strip(), role or "", (scope or "").strip() or None)
            text = t.gettext("User {user} is now {role}").format(user=u.username, role=role_label(u.role, t))
    except (UserError, ValueError) as exc:
        return dash.no_update, message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error")
    log.info("admin %s: %s", admin.username, text)
    return users_children(t), message(text, "ok")


# --- learn from verdicts (dashboard.admin_learn: a background run this page polls) -------------------------------

def learn_section(t: Translator) -> html.Section:
    return html.Section(className="gw-panel", children=[
        html.H2(t.gettext("Learn from verdicts"), className="gw-panel-title"),
        html.Div(t.gettext("Trains each category's verdict filter on the operators' verdicts, as gridwatch learn "
                           "does. A new filter is put in use only when it does at least as well on verdicts held "
                           "apart as the one in use."), className="gw-hint"),
        dcc.Store(id=ids.ADMIN_LEARN_RUN),
        dcc.Interval(id=ids.ADMIN_LEARN_TICK, interval=POLL_MS, disabled=True),
        html.Div(className="gw-form-row", children=[
            html.Button(t.gettext("Learn from verdicts"), id=ids.ADMIN_LEARN_START, n_clicks=0,
                        className="gw-btn gw-btn-go"),
        ]),
        html.Div(id=ids.ADMIN_LEARN_MESSAGE),
        html.Div(id=ids.ADMIN_LEARN_PROGRESS),
        html.Div(id=ids.ADMIN_LEARN_RESULT),
    ])


@dash.callback(
    Output(ids.ADMIN_LEARN_RUN, "data"),
    Output(ids.ADMIN_LEARN_TICK, "disabled", allow_duplicate=True),
    Output(ids.ADMIN_LEARN_MESSAGE, "children"),
    Output(ids.ADMIN_LEARN_RESULT, "children", allow_duplicate=True),
    Input(ids.ADMIN_LEARN_START, "n_clicks"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def learn_start(n_clicks: int | None, locale: dict[str, Any] | None) -> Any:
    if not n_clicks:
        raise PreventUpdate
    admin = callback_user(PATH)
    t = locale_translator(locale)
    ctx = current()
    run, started = admin_learn.start(admin_learn.JOBS, page_services.current(), ctx.settings.learning,
                                     admin.username)
    if started:
        return {"run": run.run_id}, False, None, None
    # The run going on is followed instead: its progress and result show here too.
    text = t.gettext("Learning is already running (started by {user}); its progress is shown below").format(
        user=run.started_by)
    return {"run": run.run_id}, False, message(text, "info"), dash.no_update


@dash.callback(
    Output(ids.ADMIN_LEARN_PROGRESS, "children"),
    Output(ids.ADMIN_LEARN_TICK, "disabled"),
    Output(ids.ADMIN_LEARN_RESULT, "children"),
    Input(ids.ADMIN_LEARN_TICK, "n_intervals"),
    State(ids.ADMIN_LEARN_RUN, "data"),
    State(ids.ADMIN_LOCALE, "data"),
    prevent_initial_call=True,
)
def learn_progress(_n: int | None, ref: dict[str, Any] | None, locale: dict[str, Any] | None) -> Any:
    if not ref:
        raise PreventUpdate
    callback_user(PATH)
    t = locale_translator(locale)
    run = admin_learn.JOBS.get(int(ref.get("run") or 0))
    if run is None:
        return message(t.gettext("This learning run is gone; start it again"), "error"), True, None
    percent = round(run.fraction * 100)
    if run.state is admin_learn.RunState.RUNNING:
        stage = (t.gettext("Learning {category}").format(category=category_name(run.category, t.lang))
                 if run.category else t.gettext("Waiting to start"))
    else:
        stage = t.gettext("Done") if run.state is admin_learn.RunState.DONE else t.gettext("Failed")
    bar = html.Div(className="gw-progress-box", children=[
        html.Progress(value=str(percent), max="100", className="gw-progress", id=ids.ADMIN_LEARN_BAR),
        html.Span(f"{stage} · {percent}%", className="gw-hint"),
    ])
    if run.state is admin_learn.RunState.RUNNING:
        return bar, False, dash.no_update
    if run.state is admin_learn.RunState.FAILED:
        return bar, True, message(t.gettext("Not learnt: {reason}").format(reason=run.error or "?"), "error")
    return bar, True, html.Ul([outcome_item(t, o) for o in run.outcomes], className="gw-log")


def outcome_item(t: Translator, o: Outcome) -> html.Li:
    """One category's result: its new filter in use, refused as worse (both scores), or too few verdicts."""
    name = f"{o.category} {category_name(o.category, t.lang)}" if o.category != "*" else t.gettext("All categories")
    least = current().settings.learning.min_per_class
    if o.filter_id is not None and o.new is not None:
        kind = "in_use"
        text = t.gettext("{name}: filter #{id} trained and in use, from {n} verdicts; on {held} held apart, "
                         "{off} of {false} false alarms kept off the wall and {moved} of {true} true alerts moved "
                         "to the low lane").format(
            name=name, id=o.filter_id, n=t.number(o.verdicts), held=t.number(o.new.verdicts),
            off=t.number(o.new.false_off_wall), false=t.number(o.new.false_alarms),
            moved=t.number(o.new.true_moved), true=t.number(o.new.true_alerts))
    elif o.new is not None and o.in_use is not None:
        kind = "worse"
        text = t.gettext("{name}: refused, the new filter does worse than filter #{id} in use on {held} verdicts "
                         "held apart (log loss {new} against {old}); the one in use stays").format(
            name=name, id=o.in_use_id, held=t.number(o.new.verdicts), new=t.decimal(o.new.log_loss, 3),
            old=t.decimal(o.in_use.log_loss, 3))
    elif min(o.confirmed, o.rejected) < least:
        kind = "too_few"
        text = t.gettext("{name}: not enough verdicts, {confirmed} confirmed and {rejected} rejected; a filter "
                         "needs at least {least} of each").format(
            name=name, confirmed=t.number(o.confirmed), rejected=t.number(o.rejected),
            least=t.number(least))
    else:
        kind = "refused"
        text = t.gettext("{name}: refused: {reason}").format(name=name, reason=o.refused or "?")
    return html.Li(text, className="gw-learn-outcome", **data_attrs({"category": o.category, "result": kind}))
