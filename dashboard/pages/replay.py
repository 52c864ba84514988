"""The supervisor's replay at /replay: search sightings and their cases, play a clip with its detection box
drawn over it, follow the case's timeline, confirm or reject, and export the evidence bundle."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import dash
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from alerts.cases import CaseNotFoundError
from alerts.workflow import Action, RejectReason, Status, WorkflowError
from dashboard import desk_queries, ids, page_services, replay_queries, replay_rerun
from dashboard.auth import session
from dashboard.context import current
from dashboard.frame import (
    PAGE_ROLES,
    PageStart,
    actor_of,
    callback_user,
    data_attrs,
    header,
    locale_translator,
    message,
    register_page,
    role_layout,
)
from dashboard.staff_queries import case_in_scope
from dashboard.texts import STATUS_LABELS, action_label, status_label, when
from geo.scope import within
from gridwatch import timefmt
from gridwatch.categories import CATEGORIES
from gridwatch.i18n import N_, Translator, category_name

log = logging.getLogger(__name__)

PATH = "/replay"
ROLES = PAGE_ROLES[PATH]
TITLE = N_("Supervisor's replay")
DEFAULT_DAYS = 7
MAX_GRID_OPTIONS = 3000


register_page(__name__, PATH, "Replay", TITLE, "GridWatch supervisor's replay")


@role_layout(PATH, TITLE)
def layout(start: PageStart, query: dict[str, Any]) -> html.Div:
    t, title, user = start.t, start.title, start.user
    ctx = current()
    tz = ctx.settings.locale.timezone
    today = timefmt.local_day(datetime.now(UTC), tz)
    cams = sorted({c.id for c in ctx.settings.cameras})
    router = page_services.current().router
    grids = [c for c in router.codes() if within(c, user.scope_grid)]
    if len(grids) > MAX_GRID_OPTIONS:  # a city map: offices and communities are what a search narrows by
        grids = [c for c in grids if router.level(c) < 3]
    return html.Div(id=ids.REPLAY_ROOT, className="gw-page gw-replay", children=[
        dcc.Store(id=ids.REPLAY_LOCALE, data={"lang": t.lang}),
        dcc.Store(id=ids.REPLAY_SELECTED, data=_initial_selection(query)),
        dcc.Store(id=ids.REPLAY_DONE, data=0),
        header(t, title, user, PATH),
        html.Section(className="gw-panel gw-replay-search", children=[
            html.Div(className="gw-form-row", children=[
                html.Label([t.gettext("From"), dcc.DatePickerSingle(
                    id=ids.REPLAY_FROM, date=(today - timedelta(days=DEFAULT_DAYS)).isoformat(),
                    display_format="YYYY-MM-DD", className="gw-date")]),
                html.Label([t.gettext("To"), dcc.DatePickerSingle(
                    id=ids.REPLAY_TO, date=today.isoformat(), display_format="YYYY-MM-DD", className="gw-date")]),
                html.Label([t.gettext("Camera"), dcc.Input(id=ids.REPLAY_CAMERA, type="text", className="gw-input",
                                                           list="replay-cameras", placeholder=t.gettext("any"),
                                                           style={"width": "10em"})]),
                html.Datalist(id="replay-cameras", children=[html.Option(value=c) for c in cams]),
                html.Label([t.gettext("Grid"), dcc.Dropdown(
                    id=ids.REPLAY_GRID, className="gw-dropdown", clearable=True, placeholder=t.gettext("any"),
                    options=[{"label": f"{router.feature(c).name} ({c})", "value": c} for c in grids])]),
                html.Label([t.gettext("Category"), dcc.Dropdown(
                    id=ids.REPLAY_CATEGORY, className="gw-dropdown", clearable=True, placeholder=t.gettext("any"),
                    options=[{"label": category_name(code, t.lang), "value": code} for code in CATEGORIES])]),
                html.Label([t.gettext("Status"), dcc.Dropdown(
                    id=ids.REPLAY_STATUS, className="gw-dropdown", multi=True, placeholder=t.gettext("any"),
                    options=[{"label": status_label(s, t), "value": s.value} for s in Status])]),
                html.Button(t.gettext("Search"), id=ids.REPLAY_SEARCH, n_clicks=0, className="gw-btn gw-btn-go"),
            ]),
        ]),
        html.Main(className="gw-replay-main", children=[
            html.Section(className="gw-panel gw-replay-results-panel", children=[
                html.H2(t.gettext("Sightings"), className="gw-panel-title"),
                html.Div(id=ids.REPLAY_RESULTS, className="gw-replay-results"),
            ]),
            html.Section(className="gw-panel gw-replay-player-panel", children=[
                html.Div(id=ids.REPLAY_MESSAGE),
                html.Div(id=ids.REPLAY_PLAYER, children=html.Div(t.gettext("Pick a sighting to replay it"),
                                                                 className="gw-empty")),
            ]),
        ]),
    ])


def _initial_selection(query: dict[str, Any]) -> dict[str, str] | None:
    case = query.get("case")
    return {"case": str(case), "alert": str(query.get("alert") or "")} if case else None


@dash.callback(
    Output(ids.REPLAY_RESULTS, "children"),
    Input(ids.REPLAY_SEARCH, "n_clicks"),
    Input(ids.REPLAY_DONE, "data"),
    State(ids.REPLAY_FROM, "date"),
    State(ids.REPLAY_TO, "date"),
    State(ids.REPLAY_CAMERA, "value"),
    State(ids.REPLAY_GRID, "value"),
    State(ids.REPLAY_CATEGORY, "value"),
    State(ids.REPLAY_STATUS, "value"),
    State(ids.REPLAY_LOCALE, "data"),
)
def search(_n: int | None, _done: int | None, start: str | None, end: str | None, camera: str | None,
           grid: str | None, category: str | None, statuses: list[str] | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    t = locale_translator(locale)
    ctx = current()
    svc = page_services.current()
    tz = ctx.settings.locale.timezone
    try:
        f = replay_queries.build_filter(svc.router, user.scope_grid, start=start, end=end, tz=tz, camera=camera,
                                        grid=grid, category=category, statuses=statuses)
        hits = replay_queries.search(svc, f)
    except replay_queries.ScopeError:
        return message(t.gettext("That grid is outside your grid"), "error")
    except ValueError as exc:
        return message(t.gettext("Not searched: {reason}").format(reason=str(exc)), "error")
    if not hits:
        return html.Div(t.gettext("Nothing found"), className="gw-empty")
    rows: list[Any] = [html.Div(t.gettext("{n} sightings").format(n=t.number(len(hits))), className="gw-hint")]
    for h in hits:
        rows.append(html.Button(
            id={"type": ids.REPLAY_PICK, "case": h.case_id, "alert": h.alert_id or ""}, n_clicks=0,
            className="gw-replay-hit", **data_attrs({"alert-id": h.alert_id or "", "case-id": h.case_id}),
            children=[
                html.Img(src=h.snapshot_url, className="gw-replay-thumb") if h.snapshot_url else None,
                html.Div([
                    html.Div(f"{category_name(h.category, t.lang)} · {status_label(h.status, t)}",
                             className="gw-desk-cat"),
                    html.Div(f"{when(h.seen_at, tz)} · {h.camera_id or '—'} · {h.grid_code or '—'}",
                             className="gw-desk-sub"),
                ]),
            ],
        ))
    return rows


@dash.callback(
    Output(ids.REPLAY_SELECTED, "data", allow_duplicate=True),
    Input({"type": ids.REPLAY_PICK, "case": ALL, "alert": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def pick(_clicks: list[int | None]) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    return {"case": trigger["case"], "alert": trigger["alert"]}


def player_children(t: Translator, user: session.AuthUser, case_id: str, alert_id: str | None) -> list[Any]:
    ctx = current()
    svc = page_services.current()
    tz = ctx.settings.locale.timezone
    r = replay_queries.replay(svc, ctx.settings.media_dir, case_id, alert_id or None, user.scope_grid, user.role,
                              ctx.settings.recording.pre_seconds)
    c = r.detail.case
    stage: list[Any] = []
    if r.clip_url:
        stage.append(html.Video(id=ids.REPLAY_VIDEO, src=r.clip_url, controls=True, autoPlay=True, muted=True,
                                className="gw-replay-video", preload="auto"))
        if r.frame_size and r.bbox:
            o = replay_queries.box_overlay(r.frame_size, r.bbox, category_name(c.category, t.lang))
            # An <svg> over the <video>: same box, same letterboxing (preserveAspectRatio meet = object-fit contain).
            stage.append(html.Img(id=ids.REPLAY_OVERLAY, className="gw-replay-overlay", alt="",
                                  src=replay_queries.overlay_src(o)))
    elif r.hit and r.hit.snapshot_url:
        stage.append(html.Img(src=r.hit.snapshot_url, className="gw-replay-video"))
        stage.append(html.Div(t.gettext("The clip is not written yet"), className="gw-hint"))
    else:
        stage.append(html.Div(t.gettext("No clip for this sighting"), className="gw-empty"))
    labels = {"sightings": t.gettext("Sightings"), "events": t.gettext("Events"), "log": t.gettext("Log"),
              "report": t.gettext("Report")}
    buttons = []
    for a in r.actions:
        label = t.gettext("Confirm") if a == Action.VERIFY else (
            t.gettext("Reject as false alarm") if a == Action.REJECT else action_label(a, t))
        buttons.append(html.Button(label, id={"type": ids.REPLAY_ACT, "action": a.value}, n_clicks=0,
                                   className="gw-btn " + ("gw-btn-bad" if a == Action.REJECT else "gw-btn-go")))
    history = [
        html.Li(f"{when(e.at, tz)} · {action_label(e.action, t)} · {e.actor} ({e.role})"
                + (f" · {e.note}" if e.note else ""))
        for e in r.detail.history
    ]
    detected = ""
    if r.hit is not None:
        detected = t.gettext("Detected at {time}").format(time=when(r.hit.seen_at, tz))
        if r.offset_s is not None:
            detected += " " + t.gettext("({seconds} s into the clip)").format(seconds=t.decimal(r.offset_s, 1))
    return [
        html.Div(className="gw-replay-head", children=[
            html.Div(f"{category_name(c.category, t.lang)} · {status_label(c.status, t)} · {c.id[:8]}",
                     className="gw-desk-cat"),
            html.Div(detected, className="gw-desk-sub"),
        ]),
        html.Div(stage, className="gw-replay-stage"),
        dcc.Graph(id=ids.REPLAY_TIMELINE, figure=replay_queries.timeline_figure(
                      r.detail, tz, labels, lambda s: status_label(s, t) if s in STATUS_LABELS else action_label(s, t)),
                  config={"displayModeBar": False}, className="gw-replay-timeline"),
        html.Div(className="gw-buttons", children=[
            dcc.Input(id=ids.REPLAY_NOTE, type="text", placeholder=t.gettext("Note (optional)"), className="gw-input"),
            # Why a false alarm is one: kept with the verdict and what the pipeline saw (alerts.verdicts).
            dcc.Dropdown(id=ids.REPLAY_REASON, options=desk_queries.reason_options(c.category, t.lang),
                         clearable=True, className="gw-dropdown", placeholder=t.gettext("False alarm because"),
                         style=None if Action.REJECT in r.actions else {"display": "none"}),
            *buttons,
            html.A(t.gettext("Export evidence (zip)"), id=ids.REPLAY_EXPORT, className="gw-btn",
                   href=f"/api/evidence/{quote(c.id, safe='')}.zip", download=f"evidence-{c.id}.zip"),
        ]),
        rerun_section(t, r.hit.alert_id) if r.clip_url and r.hit and r.hit.alert_id else None,
        html.Details(open=True, children=[html.Summary(t.gettext("Audit log")), html.Ul(history, className="gw-log")]),
    ]


# --- re-run the clip with today's rules (dashboard.replay_rerun: a background job this page polls) ----------------

RERUN_POLL_MS = 1000
FINISHED = (replay_rerun.JobState.DONE, replay_rerun.JobState.FAILED)


def rerun_section(t: Translator, alert_id: str) -> html.Div:
    """The button and, when this process already re-ran the alert (or is running it), its state."""
    job = replay_rerun.JOBS.get(alert_id)
    return html.Div(className="gw-replay-rerun", children=[
        html.Button(t.gettext("Re-run with today's rules"), id=ids.REPLAY_RERUN, n_clicks=0, className="gw-btn"),
        dcc.Interval(id=ids.REPLAY_RERUN_POLL, interval=RERUN_POLL_MS,
                     disabled=job is None or job.state in FINISHED),
        dcc.Store(id=ids.REPLAY_RERUN_JOB, data={"alert": alert_id} if job else None),
        html.Div(id=ids.REPLAY_RERUN_OUT, children=rerun_children(t, job) if job else None),
    ])


def rerun_children(t: Translator, job: replay_rerun.Job) -> list[Any]:
    if job.state is replay_rerun.JobState.QUEUED:
        return [html.Div(t.gettext("Waiting for another re-run to finish…"), className="gw-hint")]
    if job.state is replay_rerun.JobState.RUNNING:
        return [html.Div(t.gettext("Running the clip through today's rules…"), className="gw-hint")]
    if job.state is replay_rerun.JobState.FAILED or job.result is None:
        return [message(t.gettext("Not re-run: {reason}").format(reason=job.error or "?"), "error")]
    res = job.result
    verdict = (t.gettext("Today's rules: still raised") if res.still_raised
               else t.gettext("Today's rules: no longer raised"))
    events = [
        html.Li(f"{category_name(e.code, t.lang)} · "
                + t.gettext("{first}–{last} s into the clip").format(first=t.decimal(e.first_s, 1),
                                                                     last=t.decimal(e.last_s, 1))
                + " · " + t.gettext("confidence {value}").format(value=t.decimal(e.confidence, 2)),
                **data_attrs({"code": e.code}))
        for e in res.events
    ]
    return [
        html.Div(verdict, className="gw-msg gw-msg-" + ("error" if res.still_raised else "ok"),
                 **data_attrs({"still-raised": "yes" if res.still_raised else "no"})),
        html.Ul(events, className="gw-log") if events else html.Div(t.gettext("Today's rules raise nothing here"),
                                                                       className="gw-empty"),
        html.Div(t.gettext("{frames} frames, {seconds} s of clip").format(
            frames=t.number(res.frames), seconds=t.decimal(res.clip_seconds, 1)), className="gw-hint"),
    ]


@dash.callback(
    Output(ids.REPLAY_RERUN_OUT, "children"),
    Output(ids.REPLAY_RERUN_POLL, "disabled"),
    Output(ids.REPLAY_RERUN_JOB, "data"),
    Input(ids.REPLAY_RERUN, "n_clicks"),
    State(ids.REPLAY_SELECTED, "data"),
    State(ids.REPLAY_LOCALE, "data"),
    prevent_initial_call=True,
)
def rerun(n_clicks: int | None, selected: dict[str, str] | None, locale: dict[str, Any] | None) -> Any:
    if not n_clicks or not selected:
        raise PreventUpdate
    user = callback_user(PATH)
    t = locale_translator(locale)
    ctx = current()
    try:
        job = replay_rerun.start(replay_rerun.JOBS, page_services.current(), ctx.settings, selected["case"],
                                 selected.get("alert") or None, user.scope_grid, user.role)
    except CaseNotFoundError:
        return message(t.gettext("No such case"), "error"), True, None
    except replay_queries.ScopeError:
        return message(t.gettext("This case is outside your grid"), "error"), True, None
    except replay_rerun.NoClipError:
        return message(t.gettext("No clip for this sighting"), "error"), True, None
    return rerun_children(t, job), job.state in FINISHED, {"alert": job.alert_id}


@dash.callback(
    Output(ids.REPLAY_RERUN_OUT, "children", allow_duplicate=True),
    Output(ids.REPLAY_RERUN_POLL, "disabled", allow_duplicate=True),
    Input(ids.REPLAY_RERUN_POLL, "n_intervals"),
    State(ids.REPLAY_RERUN_JOB, "data"),
    State(ids.REPLAY_LOCALE, "data"),
    prevent_initial_call=True,
)
def rerun_poll(_n: int | None, job_ref: dict[str, str] | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    if not job_ref:
        raise PreventUpdate
    t = locale_translator(locale)
    job = replay_rerun.JOBS.get(str(job_ref.get("alert")))
    if job is None:
        return message(t.gettext("Not re-run: {reason}").format(reason="?"), "error"), True
    try:  # the job's id came from the browser: its case must be the user's to see
        in_scope = case_in_scope(page_services.current().book.get(job.case_id), user.scope_grid)
    except CaseNotFoundError:
        in_scope = False
    if not in_scope:
        return message(t.gettext("This case is outside your grid"), "error"), True
    return rerun_children(t, job), job.state in FINISHED


@dash.callback(
    Output(ids.REPLAY_PLAYER, "children"),
    Input(ids.REPLAY_SELECTED, "data"),
    Input(ids.REPLAY_DONE, "data"),
    State(ids.REPLAY_LOCALE, "data"),
)
def show(selected: dict[str, str] | None, _done: int | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    t = locale_translator(locale)
    if not selected:
        return html.Div(t.gettext("Pick a sighting to replay it"), className="gw-empty")
    try:
        return player_children(t, user, selected["case"], selected.get("alert"))
    except CaseNotFoundError:
        return message(t.gettext("No such case"), "error")
    except replay_queries.ScopeError:
        return message(t.gettext("This case is outside your grid"), "error")


@dash.callback(
    Output(ids.REPLAY_MESSAGE, "children"),
    Output(ids.REPLAY_DONE, "data"),
    Input({"type": ids.REPLAY_ACT, "action": ALL}, "n_clicks"),
    State(ids.REPLAY_SELECTED, "data"),
    State(ids.REPLAY_NOTE, "value"),
    State(ids.REPLAY_REASON, "value"),
    State(ids.REPLAY_DONE, "data"),
    State(ids.REPLAY_LOCALE, "data"),
    prevent_initial_call=True,
)
def act(_clicks: list[int | None], selected: dict[str, str] | None, note: str | None, why: str | None,
        done: int | None, locale: dict[str, Any] | None) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not selected or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    user = callback_user(PATH)
    t = locale_translator(locale)
    svc = page_services.current()
    action = Action(trigger["action"])
    try:
        case = svc.book.get(selected["case"])
        if not case_in_scope(case, user.scope_grid):
            return message(t.gettext("This case is outside your grid"), "error"), dash.no_update
        reason = RejectReason.FALSE_ALARM.value if action == Action.REJECT else None
        view = svc.casework.apply(case.id, action, actor_of(user), note=note or None, reason=reason,
                                  verdict_reason=why if action == Action.REJECT else None)
    except (WorkflowError, CaseNotFoundError) as exc:
        return message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error"), dash.no_update
    return message(t.gettext("Case is now: {status}").format(status=status_label(view.status, t)), "ok"), \
        (done or 0) + 1


@dash.callback(
    Output(ids.REPLAY_SELECTED, "data", allow_duplicate=True),
    Input(ids.REPLAY_TIMELINE, "clickData"),
    State(ids.REPLAY_SELECTED, "data"),
    prevent_initial_call=True,
)
def pick_on_timeline(click: dict[str, Any] | None, selected: dict[str, str] | None) -> Any:
    """A sighting clicked on the timeline plays that alert's clip."""
    points = (click or {}).get("points") or []
    alert_id = points[0].get("customdata") if points else None
    if not selected or not alert_id or alert_id == selected.get("alert"):
        raise PreventUpdate
    callback_user(PATH)
    return {"case": selected["case"], "alert": str(alert_id)}
