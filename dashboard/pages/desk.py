"""The operator's desk at /desk: pick an alert, see it, and confirm-and-assign, reject or merge it.

Picking an alert claims it on the server (dashboard.desk_queries): a second operator who picks it sees who
holds it, and every action is checked against the claim again before it touches the case. Keys: j/k or the
arrow keys move through the queue, a assigns, r rejects as a false alarm, m merges, Esc lets the alert go;
c closes a case a camera's pass saw clear (现场复查: 已无) once its picture is checked.

Alerts the verdict filter doubted (below ``learning.review_threshold``) wait in a low-priority lane under the
queue, counted, never dropped: p promotes the picked one to the wall. Each item shows its "likely real" score;
the queue can put the most uncertain scores first (the verdicts that teach the filter most), and a rejection
says why from the category's short list (stored with what the pipeline saw, alerts.verdicts).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
import redis
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from alerts.casebook import CaseView
from alerts.cases import CaseNotFoundError
from alerts.casework import TargetError
from alerts.departments import list_departments
from alerts.workflow import Action, WorkflowError
from dashboard import desk_queries, ids, page_services, replay_queries
from dashboard.auth import guard, policy, session
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
from dashboard.texts import age_text, status_label, when
from geo.routing import UnknownGridCodeError
from geo.scope import within
from gridwatch.i18n import N_, Translator, category_name

log = logging.getLogger(__name__)

PATH = "/desk"
ROLES = PAGE_ROLES[PATH]
TITLE = N_("Operator's desk")
QUEUE_REFRESH_MS = 3000
MAX_GRID_OPTIONS = 3000


register_page(__name__, PATH, "Desk", TITLE, "GridWatch operator's desk")


def _claim_ttl_ms() -> int:
    return int(current().settings.auth.claim_seconds * 1000)


@role_layout(PATH, TITLE)
def layout(start: PageStart, query: dict[str, Any]) -> html.Div:
    t, title, user = start.t, start.title, start.user
    opened = _opened_case(query.get("case"), user)
    return html.Div(id=ids.DESK_ROOT, className="gw-page gw-desk", children=[
        dcc.Store(id=ids.DESK_LOCALE, data={"lang": t.lang}),
        dcc.Store(id=ids.DESK_SELECTED, data=opened),
        dcc.Store(id=ids.DESK_DONE, data=0),
        dcc.Store(id=ids.DESK_KEYS),
        dcc.Interval(id=ids.DESK_QUEUE_TICK, interval=QUEUE_REFRESH_MS),
        header(t, title, user, PATH),
        html.Main(className="gw-desk-main", children=[
            html.Section(className="gw-panel gw-desk-queue-panel", children=[
                html.H2(t.gettext("Alert queue"), className="gw-panel-title"),
                html.Div(t.gettext("Keys: j/k next/previous · a assign · r reject · m merge · Esc release"),
                         className="gw-hint"),
                html.Div(t.gettext("p: promote a low-priority alert to the wall"), className="gw-hint"),
                dcc.RadioItems(id=ids.DESK_SORT, value=desk_queries.SORT_DEFAULT, inline=True,
                               className="gw-desk-sort", labelStyle={"color": "#e8eef9", "marginRight": "1em"},
                               options=[
                                   {"label": t.gettext("Usual order"), "value": desk_queries.SORT_DEFAULT},
                                   {"label": t.gettext("Most uncertain first"),
                                    "value": desk_queries.SORT_UNCERTAIN}]),
                html.Div(queue_children(t, user.scope_grid, opened, user.username),
                         id=ids.DESK_QUEUE,
                         className="gw-desk-queue"),
            ]),
            html.Section(className="gw-panel gw-desk-detail-panel", children=[
                html.Div(id=ids.DESK_MESSAGE),
                html.Div(id=ids.DESK_DETAIL, children=detail_children(t, user, opened) if opened else html.Div(
                    t.gettext("Pick an alert from the queue"), className="gw-empty")),
            ]),
        ]),
    ])


def _opened_case(case_id: Any, user: session.AuthUser) -> str | None:
    """``/desk?case=<id>`` (a case clicked on the wall's map): that case, picked as a click in the queue picks it,
    when it exists and the user may see it; None otherwise (the desk opens as usual)."""
    if not isinstance(case_id, str) or not case_id:
        return None
    try:
        _case_or_403(user, case_id)
        desk_queries.claim(current().redis, case_id, user.username, user.display_name, _claim_ttl_ms())
    except (CaseNotFoundError, guard.CallbackForbiddenError, redis.RedisError) as exc:
        log.info("desk: case %s from the address not opened for %s: %s", case_id, user.username, exc)
        return None
    return case_id


def queue_children(t: Translator, scope: str | None, selected: str | None, me: str | None = None,
                   sort: str | None = None) -> list[Any]:
    """The queue's items, then the low-priority lane's with their count; an alert another operator holds says who
    (``me``: the viewer, whose own claims don't). ``sort``: desk_queries.SORT_UNCERTAIN puts the scores nearest
    the review threshold first."""
    ctx = current()
    svc = page_services.current()
    now = datetime.now(UTC)
    around = ctx.settings.learning.review_threshold if sort == desk_queries.SORT_UNCERTAIN else None
    try:
        cases = desk_queries.desk_queue(svc.book, scope, now=now, uncertain_around=around)
        low, low_count = desk_queries.low_lane(svc.book, scope, now=now, uncertain_around=around)
    except (UnknownGridCodeError, ValueError) as exc:
        log.warning("desk: queue unavailable: %s", exc)
        return [message(t.gettext("The queue is unavailable"), "error")]
    if not cases and not low_count:
        return [html.Div(t.gettext("No alerts waiting"), className="gw-empty")]
    try:
        held = desk_queries.holders(ctx.redis, [c.id for c in [*cases, *low]])
    except redis.RedisError as exc:
        log.warning("desk: claims unavailable: %s", exc)
        held = {}

    def item(c: CaseView) -> Any:
        grid = c.assignee_grid or c.grid_code
        name = svc.router.feature(grid).name if grid and grid in svc.router else t.gettext("No grid")
        lock = held.get(c.id)
        if lock is not None and lock[0] == me:
            lock = None
        cls = "gw-desk-item" + (" gw-desk-item-on" if c.id == selected else "") + (" gw-desk-item-held" if lock else "")
        cls += " gw-desk-item-low" if c.lane == "low" else ""
        return html.Button(
            id={"type": ids.DESK_PICK, "case": c.id}, className=cls, n_clicks=0,
            **data_attrs({"case-id": c.id}),
            children=[
                html.Img(src=c.snapshot_url, className="gw-desk-thumb") if c.snapshot_url else
                html.Div(t.gettext("No snapshot"), className="gw-desk-thumb gw-desk-thumb-none"),
                html.Div(className="gw-desk-item-text", children=[
                    html.Div(category_name(c.category, t.lang), className="gw-desk-cat"),
                    html.Div(f"{name} · {status_label(c.status, t)}", className="gw-desk-sub"),
                    html.Div(t.gettext("Likely real {pct}").format(pct=t.percent(c.likely_real)),
                             className="gw-desk-score") if c.likely_real is not None else None,
                    html.Div(t.gettext("Seen clear on site"), className="gw-desk-clear") if c.seen_clear else None,
                    html.Div(age_text(c.reported_at, now, t), className="gw-desk-age"),
                    html.Div(t.gettext("Held by {name}").format(name=lock[1]), className="gw-desk-lock")
                    if lock else None,
                ]),
            ],
        )

    items = [item(c) for c in cases]
    if low_count:
        items.append(html.Div(t.gettext("Low priority ({n})").format(n=low_count), className="gw-desk-lane-head"))
        items += [item(c) for c in low]
    return items


def _case_or_403(user: session.AuthUser, case_id: str, action: Action | None = None) -> None:
    """The case must lie in the user's scope (and, for a holder's action, be held there), as in the JSON API;
    CaseNotFoundError when it is gone."""
    view = page_services.current().book.get(case_id)
    if not policy.case_visible(user, view) or (action is not None and not policy.holder_may(user, view, action)):
        log.warning("desk: %s refused case %s outside grid %s", user.username, case_id, user.scope_grid)
        raise guard.CallbackForbiddenError("this case is outside your grid")


@dash.callback(
    Output(ids.DESK_QUEUE, "children"),
    Input(ids.DESK_QUEUE_TICK, "n_intervals"),
    Input(ids.DESK_DONE, "data"),
    Input(ids.DESK_SELECTED, "data"),
    Input(ids.DESK_SORT, "value"),
    State(ids.DESK_LOCALE, "data"),
    prevent_initial_call=True,
)
def refresh_queue(_n: int | None, _done: int | None, selected: str | None, sort: str | None,
                  locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    return queue_children(locale_translator(locale), user.scope_grid, selected, user.username, sort)


@dash.callback(
    Output(ids.DESK_SELECTED, "data"),
    Output(ids.DESK_MESSAGE, "children"),
    Input({"type": ids.DESK_PICK, "case": ALL}, "n_clicks"),
    State(ids.DESK_SELECTED, "data"),
    State(ids.DESK_LOCALE, "data"),
    prevent_initial_call=True,
)
def pick(clicks: list[int | None], selected: str | None, locale: dict[str, Any] | None) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(c for c in clicks or []):
        raise PreventUpdate
    if not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate  # the queue re-rendered; nobody clicked
    user = callback_user(PATH)
    t = locale_translator(locale)
    case_id = str(trigger["case"])
    try:
        _case_or_403(user, case_id)
    except CaseNotFoundError:
        return None, message(t.gettext("This alert is no longer there"), "warn")
    client = current().redis
    if selected and selected != case_id:
        desk_queries.release(client, selected, user.username)
    claim = desk_queries.claim(client, case_id, user.username, user.display_name, _claim_ttl_ms())
    if not claim.mine:
        return case_id, message(
            t.gettext("{name} is handling this alert; you can look but not act on it").format(name=claim.name),
            "warn")
    return case_id, None


def _options(t: Translator, scope: str | None, office: str | None) -> list[dict[str, str]]:
    router = page_services.current().router
    choices = desk_queries.grid_choices(router, scope)
    if len(choices) > MAX_GRID_OPTIONS and office:
        choices = [c for c in choices if within(c[0], office)]
    return [{"label": label, "value": code} for code, label in choices]


def detail_children(t: Translator, user: session.AuthUser, case_id: str) -> list[Any]:
    ctx = current()
    svc = page_services.current()
    tz = ctx.settings.locale.timezone
    d = desk_queries.desk_detail(svc, ctx.settings.media_dir, case_id, user.role)
    c = d.case
    held = desk_queries.holders(ctx.redis, [c.id]).get(c.id)
    mine = held is None or held[0] == user.username
    suggested = d.suggested.responsible
    suggested_name = svc.router.feature(suggested).name if suggested and suggested in svc.router else None
    departments = list_departments(svc.repo.engine)
    can_assign = Action.DISPATCH in d.actions or Action.VERIFY in d.actions
    can_reject = Action.REJECT in d.actions
    can_close = Action.CLOSE in d.actions and d.clear is not None
    media: list[Any] = []
    if d.clear is not None:  # the pass that saw the place clear, beside the problem's own picture
        media.append(html.Figure(className="gw-desk-clear-pass", children=[
            html.Img(src=d.clear.snapshot_url, className="gw-desk-snapshot", alt=t.gettext("Seen clear on site"))
            if d.clear.snapshot_url else html.Div(t.gettext("No snapshot"), className="gw-empty"),
            html.Figcaption(f"{t.gettext('Seen clear on site')} · {when(d.clear.seen_at, tz)} · "
                            f"{d.clear.camera_id or ''}"),
        ]))
    if c.snapshot_url:
        media.append(html.Img(src=c.snapshot_url, className="gw-desk-snapshot", alt=t.gettext("Snapshot")))
    if d.clip_url:
        stage: list[Any] = [html.Video(id=ids.DESK_VIDEO, src=d.clip_url, controls=True, autoPlay=True, muted=True,
                                       loop=True, className="gw-replay-video")]
        size = replay_queries.clip_frame_size(ctx.settings.media_dir, d.clip_url)
        if size and d.alert is not None:
            box = replay_queries.box_overlay(size, d.alert.bbox, category_name(c.category, t.lang))
            stage.append(html.Img(className="gw-replay-overlay", alt="", src=replay_queries.overlay_src(box)))
        media.append(html.Div(stage, className="gw-replay-stage gw-desk-stage"))
    else:
        media.append(html.Div(t.gettext("The clip is not written yet"), className="gw-desk-video gw-empty"))
    nearby_opts = [
        {"label": f"{category_name(n.case.category, t.lang)} · {status_label(n.case.status, t)} · "
                  f"{n.distance_m:.0f} m · {n.case.id[:8]}", "value": n.case.id}
        for n in d.nearby
    ]
    facts = [
        (t.gettext("Category"), category_name(c.category, t.lang)),
        (t.gettext("Status"), status_label(c.status, t)),
        (t.gettext("Seen"), f"{when(c.first_seen, tz)} → {when(c.last_seen, tz)} ({c.sightings})"),
        (t.gettext("Camera"), d.alert.camera_id if d.alert else (d.sighting.camera_id if d.sighting else "")),
        (t.gettext("Confidence"), t.percent(d.alert.confidence) if d.alert else ""),
        (t.gettext("Likely real"), (t.percent(c.likely_real) if c.likely_real is not None else t.gettext("Not scored"))
         + (" · " + t.gettext("Low priority lane") if c.lane == "low" else "")),
        (t.gettext("Position"), f"{c.lat:.5f}, {c.lon:.5f}" if c.lat is not None and c.lon is not None else "—"),
        (t.gettext("Suggested grid"), f"{suggested_name} ({suggested})" if suggested else t.gettext("No grid")),
    ]
    figure = desk_queries.position_figure(svc.router, c, d.suggested, d.nearby,
                                          {"case": t.gettext("This alert"), "nearby": t.gettext("Open cases nearby")})
    return [
        html.Div(className="gw-desk-media", children=media),
        html.Div(className="gw-desk-info", children=[
            html.Dl(className="gw-facts", children=[x for k, v in facts for x in (html.Dt(k), html.Dd(v))]),
            dcc.Graph(id=ids.DESK_MAP, figure=figure, className="gw-desk-map",
                      config={"displayModeBar": False, "scrollZoom": True}),
        ]),
        html.Div(className="gw-desk-actions", children=[
            html.Label(t.gettext("Assign to grid"), className="gw-label"),
            dcc.Dropdown(id=ids.DESK_GRID, options=_options(t, user.scope_grid, d.suggested.office_code),
                         value=suggested, clearable=True, className="gw-dropdown"),
            html.Label(t.gettext("or department"), className="gw-label"),
            dcc.Dropdown(id=ids.DESK_DEPARTMENT, clearable=True, className="gw-dropdown",
                         options=[{"label": dep.name if t.lang != "en" else (dep.name_en or dep.name),
                                   "value": dep.code} for dep in departments]),
            dcc.Input(id=ids.DESK_NOTE, type="text", placeholder=t.gettext("Note (optional)"),
                      className="gw-input", debounce=False),
            html.Label(t.gettext("False alarm because"), className="gw-label"),
            dcc.Dropdown(id=ids.DESK_REASON, options=desk_queries.reason_options(c.category, t.lang),
                         clearable=True, className="gw-dropdown"),
            html.Div(className="gw-buttons", children=[
                html.Button(t.gettext("Confirm and assign (a)"), id=ids.DESK_ASSIGN, n_clicks=0,
                            className="gw-btn gw-btn-go", disabled=not (mine and can_assign)),
                html.Button(t.gettext("False alarm (r)"), id=ids.DESK_REJECT, n_clicks=0,
                            className="gw-btn gw-btn-bad", disabled=not (mine and can_reject)),
                html.Button(t.gettext("Release (Esc)"), id=ids.DESK_RELEASE, n_clicks=0, className="gw-btn"),
            ]),
            html.Button(t.gettext("Seen clear: close the case (c)"), id=ids.DESK_CLOSE, n_clicks=0,
                        className="gw-btn gw-btn-go", disabled=not (mine and can_close),
                        style=None if d.clear is not None else {"display": "none"}),
            html.Button(t.gettext("Promote to the wall (p)"), id=ids.DESK_PROMOTE, n_clicks=0, className="gw-btn",
                        disabled=not (mine and c.lane == "low" and c.is_open),
                        style=None if c.lane == "low" and c.is_open else {"display": "none"}),
            html.Label(t.gettext("Merge into an open case nearby"), className="gw-label"),
            dcc.Dropdown(id=ids.DESK_MERGE_TARGET, options=nearby_opts,
                         value=nearby_opts[0]["value"] if nearby_opts else None, className="gw-dropdown",
                         placeholder=t.gettext("No open case nearby") if not nearby_opts else None),
            html.Button(t.gettext("Merge (m)"), id=ids.DESK_MERGE, n_clicks=0, className="gw-btn",
                        disabled=not (mine and nearby_opts and c.is_open)),
        ]),
    ]


@dash.callback(
    Output(ids.DESK_DETAIL, "children"),
    Input(ids.DESK_SELECTED, "data"),
    State(ids.DESK_LOCALE, "data"),
    prevent_initial_call=True,
)
def show_detail(case_id: str | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    t = locale_translator(locale)
    if not case_id:
        return html.Div(t.gettext("Pick an alert from the queue"), className="gw-empty")
    try:
        _case_or_403(user, case_id)
        return detail_children(t, user, case_id)
    except CaseNotFoundError:
        return message(t.gettext("This alert is no longer there"), "warn")


@dash.callback(
    Output(ids.DESK_MESSAGE, "children", allow_duplicate=True),
    Output(ids.DESK_SELECTED, "data", allow_duplicate=True),
    Output(ids.DESK_DONE, "data"),
    Input(ids.DESK_ASSIGN, "n_clicks"),
    Input(ids.DESK_REJECT, "n_clicks"),
    Input(ids.DESK_MERGE, "n_clicks"),
    Input(ids.DESK_RELEASE, "n_clicks"),
    Input(ids.DESK_CLOSE, "n_clicks"),
    Input(ids.DESK_PROMOTE, "n_clicks"),
    State(ids.DESK_SELECTED, "data"),
    State(ids.DESK_GRID, "value"),
    State(ids.DESK_DEPARTMENT, "value"),
    State(ids.DESK_NOTE, "value"),
    State(ids.DESK_REASON, "value"),
    State(ids.DESK_MERGE_TARGET, "value"),
    State(ids.DESK_DONE, "data"),
    State(ids.DESK_LOCALE, "data"),
    prevent_initial_call=True,
)
def act(_a: int, _r: int, _m: int, _x: int, _c: int, _p: int, case_id: str | None, grid: str | None,
        department: str | None, note: str | None, reason: str | None, merge_target: str | None, done: int | None,
        locale: dict[str, Any] | None) -> Any:
    if not case_id or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    user = callback_user(PATH)
    t = locale_translator(locale)
    svc = page_services.current()
    client = current().redis
    actor = actor_of(user)
    which = dash.ctx.triggered_id
    try:
        _case_or_403(user, case_id, Action.DISPATCH if which == ids.DESK_ASSIGN else None)
        if merge_target and which == ids.DESK_MERGE:
            _case_or_403(user, merge_target)
        if which == ids.DESK_RELEASE:
            desk_queries.release(client, case_id, user.username)
            return None, None, (done or 0) + 1
        if which == ids.DESK_ASSIGN:
            view = desk_queries.assign(svc, client, case_id, actor, user.display_name, grid, department, note)
            target = view.assignee_grid if grid else view.department
            text = t.gettext("Assigned to {target}").format(target=_target_name(target, grid is not None))
        elif which == ids.DESK_REJECT:
            desk_queries.reject_false_alarm(svc, client, case_id, actor, user.display_name, note, reason)
            text = t.gettext("Rejected as a false alarm")
        elif which == ids.DESK_PROMOTE:
            desk_queries.promote(svc, client, case_id, actor, user.display_name)
            text = t.gettext("Promoted to the wall")
        elif which == ids.DESK_CLOSE:
            desk_queries.close_seen_clear(svc, client, case_id, actor, user.display_name, note)
            text = t.gettext("Closed: the place was seen clear")
        elif which == ids.DESK_MERGE:
            if not merge_target:
                return message(t.gettext("Choose the case to merge into"), "warn"), dash.no_update, dash.no_update
            desk_queries.merge_into(svc, client, case_id, merge_target, actor, user.display_name, note)
            text = t.gettext("Merged into case {case}").format(case=merge_target[:8])
        else:
            raise PreventUpdate
    except desk_queries.ClaimedError as exc:
        return message(t.gettext("{name} is handling this alert; your action was not applied").format(
            name=exc.holder), "error"), dash.no_update, (done or 0) + 1
    except (TargetError, WorkflowError, CaseNotFoundError) as exc:
        log.info("desk: %s refused for %s: %s", which, user.username, exc)
        return message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error"), dash.no_update, \
            (done or 0) + 1
    log.info("desk: %s on case %s by %s", which, case_id, user.username)
    return message(text, "ok"), None, (done or 0) + 1


def _target_name(code: str | None, is_grid: bool) -> str:
    router = page_services.current().router
    if is_grid and code and code in router:
        return f"{router.feature(code).name} ({code})"
    return code or ""


# Keyboard shortcuts: one listener per browser tab, active only while the desk is on screen.
dash.clientside_callback(
    """
    function(_) {
      if (window.__gwDeskKeys) { return window.dash_clientside.no_update; }
      window.__gwDeskKeys = true;
      document.addEventListener('keydown', function (e) {
        if (!document.getElementById('__ROOT__')) { return; }
        const el = e.target || {};
        const tag = (el.tagName || '').toLowerCase();
        if (tag === 'input' || tag === 'textarea' || tag === 'select' || el.isContentEditable) { return; }
        if (e.ctrlKey || e.metaKey || e.altKey) { return; }
        if (['j', 'k', 'ArrowDown', 'ArrowUp'].includes(e.key)) {
          const items = Array.from(document.querySelectorAll('.gw-desk-item'));
          if (!items.length) { return; }
          let i = items.findIndex(x => x.classList.contains('gw-desk-item-on'));
          i = (e.key === 'j' || e.key === 'ArrowDown') ? Math.min(items.length - 1, i + 1) : Math.max(0, i - 1);
          items[i].click(); items[i].scrollIntoView({block: 'nearest'}); e.preventDefault(); return;
        }
        const ids = {a: '__ASSIGN__', r: '__REJECT__', m: '__MERGE__', c: '__CLOSE__', p: '__PROMOTE__',
                     Escape: '__RELEASE__'};
        const target = ids[e.key] && document.getElementById(ids[e.key]);
        if (target && !target.disabled) { target.click(); e.preventDefault(); }
      });
      return true;
    }
    """.replace("__ROOT__", ids.DESK_ROOT).replace("__ASSIGN__", ids.DESK_ASSIGN)
    .replace("__REJECT__", ids.DESK_REJECT).replace("__MERGE__", ids.DESK_MERGE)
    .replace("__RELEASE__", ids.DESK_RELEASE).replace("__CLOSE__", ids.DESK_CLOSE)
    .replace("__PROMOTE__", ids.DESK_PROMOTE),
    Output(ids.DESK_KEYS, "data"),
    Input(ids.DESK_LOCALE, "data"),
)
