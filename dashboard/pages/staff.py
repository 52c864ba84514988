"""The grid staff's page at /staff, laid out for a phone: my open cases, accept one, report it handled with a
note and a photo, escalate it, and file or answer a formal query. ``/staff?case=<id>`` opens one case
(refused, with a message, when it lies outside the user's grid)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from alerts.cases import CaseNotFoundError
from alerts.workflow import Action, Role, Status, WorkflowError, allowed_actions
from dashboard import ids, page_services, staff_queries
from dashboard.auth import policy, session
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
from dashboard.texts import action_label, age_text, status_label, when
from geo.scope import within
from gridwatch.i18n import N_, Translator, category_name

log = logging.getLogger(__name__)

PATH = "/staff"
ROLES = PAGE_ROLES[PATH]
TITLE = N_("My cases")
REFRESH_MS = 15_000


register_page(__name__, PATH, "Staff", TITLE, "GridWatch grid staff's cases")


@role_layout(PATH, TITLE)
def layout(start: PageStart, query: dict[str, Any]) -> html.Div:
    t, title, user = start.t, start.title, start.user
    selected = str(query["case"]) if query.get("case") else None
    return html.Div(id=ids.STAFF_ROOT, className="gw-page gw-staff", children=[
        dcc.Store(id=ids.STAFF_LOCALE, data={"lang": t.lang}),
        dcc.Store(id=ids.STAFF_SELECTED, data=selected),
        dcc.Store(id=ids.STAFF_DONE, data=0),
        dcc.Interval(id=ids.STAFF_TICK, interval=REFRESH_MS),
        header(t, title, user, PATH),
        html.Div(id=ids.STAFF_MESSAGE),
        html.Div(case_children(t, user, selected) if selected else None, id=ids.STAFF_CASE),
        html.Div(list_children(t, user), id=ids.STAFF_LIST, className="gw-staff-list"),
    ])


def list_children(t: Translator, user: session.AuthUser) -> list[Any]:
    svc = page_services.current()
    tz = current().settings.locale.timezone
    now = datetime.now(UTC)
    cases = staff_queries.my_cases(svc.book, user.scope_grid, user.department if user.role == Role.DEPARTMENT
                                   else None, now=now)
    out: list[Any] = [html.H2(t.gettext("Open cases ({n})").format(n=t.number(len(cases))), className="gw-panel-title")]
    if not cases:
        out.append(html.Div(t.gettext("Nothing to do"), className="gw-empty"))
    for c in cases:
        grid = c.assignee_grid or c.grid_code
        name = svc.router.feature(grid).name if grid and grid in svc.router else "—"
        due = t.gettext("due {time}").format(time=when(c.deadline_at, tz)) if c.deadline_at else ""
        out.append(html.Button(
            id={"type": ids.STAFF_OPEN, "case": c.id}, n_clicks=0, **data_attrs({"case-id": c.id}),
            className="gw-staff-card" + (" gw-staff-overdue" if c.overdue else ""),
            children=[
                html.Img(src=c.snapshot_url, className="gw-staff-thumb") if c.snapshot_url else None,
                html.Div([
                    html.Div(category_name(c.category, t.lang), className="gw-desk-cat"),
                    html.Div(f"{status_label(c.status, t)} · {name}", className="gw-desk-sub"),
                    html.Div(" · ".join(x for x in (age_text(c.reported_at, now, t), due,
                                                   t.gettext("Overdue") if c.overdue else "") if x),
                             className="gw-desk-age"),
                ]),
            ],
        ))
    queries = staff_queries.queries_for(svc.book, user.scope_grid)
    if queries:
        out.append(html.H2(t.gettext("Queries waiting for your answer"), className="gw-panel-title"))
        for q in queries:
            out.append(html.Div(className="gw-staff-query", children=[
                html.Div(f"{when(q.filed_at, tz)} · {q.filed_by} ({q.filed_grid or '—'}) · {q.case_id[:8]}",
                         className="gw-desk-sub"),
                html.Div(q.question, className="gw-staff-question"),
                dcc.Textarea(id={"type": ids.STAFF_ANSWER_TEXT, "query": q.id}, className="gw-input"),
                html.Button(t.gettext("Answer"), id={"type": ids.STAFF_ANSWER, "query": q.id}, n_clicks=0,
                            className="gw-btn gw-btn-go"),
            ]))
    return out


def case_children(t: Translator, user: session.AuthUser, case_id: str) -> list[Any]:
    svc = page_services.current()
    tz = current().settings.locale.timezone
    try:
        detail = svc.book.detail(case_id)
    except CaseNotFoundError:
        return [message(t.gettext("No such case"), "error")]
    c = detail.case
    if not policy.case_visible(user, c):
        log.info("staff: %s refused case %s outside grid %s", user.username, case_id, user.scope_grid)
        return [message(t.gettext("This case is outside your grid"), "error")]
    actions = allowed_actions(c.status, user.role)
    may_query = (c.escalated_at is not None and c.status in (Status.ESCALATED, Status.DISPATCHED, Status.IN_PROGRESS,
                                                             Status.REWORK)
                 and c.escalated_from is not None and within(c.escalated_from, user.scope_grid))
    controls: list[Any] = [
        dcc.Textarea(id=ids.STAFF_NOTE, className="gw-input gw-staff-note",
                     placeholder=t.gettext("What was done, or why it needs the grid above")),
    ]
    controls.append(dcc.Upload(
        id=ids.STAFF_PHOTO, accept="image/*", className="gw-staff-upload", multiple=False,
        style=None if Action.HANDLE in actions else {"display": "none"},
        children=html.Div([t.gettext("Add a photo"), html.Span(id=ids.STAFF_PHOTO_NAME, className="gw-hint")]),
    ))
    buttons = [
        (ids.STAFF_ACCEPT, t.gettext("Accept"), Action.START in actions, "gw-btn-go"),
        (ids.STAFF_HANDLED, action_label(Action.HANDLE, t), Action.HANDLE in actions, "gw-btn-go"),
        (ids.STAFF_ESCALATE, action_label(Action.ESCALATE, t), Action.ESCALATE in actions, "gw-btn-bad"),
        (ids.STAFF_QUERY, t.gettext("File a query"), may_query, "gw-btn"),
    ]
    controls.append(html.Div(className="gw-buttons", children=[
        html.Button(label, id=bid, n_clicks=0, className=f"gw-btn {cls}", style=None if on else {"display": "none"})
        for bid, label, on, cls in buttons
    ]))
    facts = [
        (t.gettext("Status"), status_label(c.status, t)),
        (t.gettext("Reported"), when(c.reported_at, tz)),
        (t.gettext("Deadline"), when(c.deadline_at, tz) or "—"),
        (t.gettext("Position"), f"{c.lat:.5f}, {c.lon:.5f}" if c.lat is not None and c.lon is not None else "—"),
        (t.gettext("Grid"), c.assignee_grid or c.grid_code or "—"),
    ]
    if c.feedback_note:
        facts.append((t.gettext("Feedback"), c.feedback_note))
    return [html.Section(className="gw-panel gw-staff-case", **data_attrs({"case-id": c.id}), children=[
        html.Div(className="gw-replay-head", children=[
            html.Div(category_name(c.category, t.lang), className="gw-desk-cat"),
            html.Button("✕", id=ids.STAFF_BACK, n_clicks=0, className="gw-btn gw-staff-back"),
        ]),
        html.Img(src=c.snapshot_url, className="gw-staff-photo") if c.snapshot_url else None,
        html.Dl(className="gw-facts", children=[x for k, v in facts for x in (html.Dt(k), html.Dd(v))]),
        html.Img(src=c.feedback_photo_url, className="gw-staff-photo", alt=t.gettext("Feedback"))
        if c.feedback_photo_url else None,
        *controls,
    ])]


@dash.callback(
    Output(ids.STAFF_LIST, "children"),
    Input(ids.STAFF_TICK, "n_intervals"),
    Input(ids.STAFF_DONE, "data"),
    State(ids.STAFF_LOCALE, "data"),
    prevent_initial_call=True,
)
def refresh_list(_n: int | None, _done: int | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    return list_children(locale_translator(locale), user)


@dash.callback(
    Output(ids.STAFF_SELECTED, "data"),
    Input({"type": ids.STAFF_OPEN, "case": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_case(_clicks: list[int | None]) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    return trigger["case"]


@dash.callback(
    Output(ids.STAFF_CASE, "children"),
    Input(ids.STAFF_SELECTED, "data"),
    Input(ids.STAFF_DONE, "data"),
    State(ids.STAFF_LOCALE, "data"),
    prevent_initial_call=True,
)
def show_case(case_id: str | None, _done: int | None, locale: dict[str, Any] | None) -> Any:
    user = callback_user(PATH)
    return case_children(locale_translator(locale), user, case_id) if case_id else None


@dash.callback(
    Output(ids.STAFF_SELECTED, "data", allow_duplicate=True),
    Input(ids.STAFF_BACK, "n_clicks"),
    prevent_initial_call=True,
)
def close_case(n: int | None) -> Any:
    if not n:
        raise PreventUpdate
    return None


@dash.callback(
    Output(ids.STAFF_PHOTO_NAME, "children"),
    Input(ids.STAFF_PHOTO, "filename"),
    prevent_initial_call=True,
)
def photo_name(name: str | None) -> Any:
    return f" ✓ {name}" if name else ""


@dash.callback(
    Output(ids.STAFF_MESSAGE, "children"),
    Output(ids.STAFF_DONE, "data"),
    Input(ids.STAFF_ACCEPT, "n_clicks"),
    Input(ids.STAFF_HANDLED, "n_clicks"),
    Input(ids.STAFF_ESCALATE, "n_clicks"),
    Input(ids.STAFF_QUERY, "n_clicks"),
    State(ids.STAFF_SELECTED, "data"),
    State(ids.STAFF_NOTE, "value"),
    State(ids.STAFF_PHOTO, "contents"),
    State(ids.STAFF_DONE, "data"),
    State(ids.STAFF_LOCALE, "data"),
    prevent_initial_call=True,
)
def act(_a: int, _h: int, _e: int, _q: int, case_id: str | None, note: str | None, photo: str | None,
        done: int | None, locale: dict[str, Any] | None) -> Any:
    if not case_id or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    user = callback_user(PATH)
    t = locale_translator(locale)
    svc = page_services.current()
    actor = actor_of(user)
    which = dash.ctx.triggered_id
    try:
        case = svc.book.get(case_id)
        wanted = {ids.STAFF_ACCEPT: Action.START, ids.STAFF_HANDLED: Action.HANDLE,
                  ids.STAFF_ESCALATE: Action.ESCALATE}.get(str(which))
        if not policy.case_visible(user, case) or (wanted is not None and not policy.holder_may(user, case, wanted)):
            log.warning("staff: %s refused case %s outside grid %s", user.username, case_id, user.scope_grid)
            return message(t.gettext("This case is outside your grid"), "error"), dash.no_update
        if which == ids.STAFF_ACCEPT:
            staff_queries.accept(svc.casework, case_id, actor)
            text = t.gettext("Accepted: the case is yours")
        elif which == ids.STAFF_HANDLED:
            staff_queries.feedback(svc.casework, current().settings.media_dir, case_id, actor, note or "", photo)
            text = t.gettext("Reported handled; the centre will check it")
        elif which == ids.STAFF_ESCALATE:
            staff_queries.escalate(svc.casework, case_id, actor, note or "")
            text = t.gettext("Escalated to the grid above")
        elif which == ids.STAFF_QUERY:
            staff_queries.file_query(svc.casework, case_id, actor, note or "")
            text = t.gettext("Query filed")
        else:
            raise PreventUpdate
    except (WorkflowError, CaseNotFoundError) as exc:
        return message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error"), dash.no_update
    return message(text, "ok"), (done or 0) + 1


@dash.callback(
    Output(ids.STAFF_MESSAGE, "children", allow_duplicate=True),
    Output(ids.STAFF_DONE, "data", allow_duplicate=True),
    Input({"type": ids.STAFF_ANSWER, "query": ALL}, "n_clicks"),
    State({"type": ids.STAFF_ANSWER_TEXT, "query": ALL}, "value"),
    State({"type": ids.STAFF_ANSWER_TEXT, "query": ALL}, "id"),
    State(ids.STAFF_DONE, "data"),
    State(ids.STAFF_LOCALE, "data"),
    prevent_initial_call=True,
)
def answer(_clicks: list[int | None], texts: list[str | None], text_ids: list[dict[str, Any]], done: int | None,
           locale: dict[str, Any] | None) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(t.get("value") for t in dash.ctx.triggered):
        raise PreventUpdate
    user = callback_user(PATH)
    t = locale_translator(locale)
    query_id = int(trigger["query"])
    if user.scope_grid is not None and all(q.id != query_id for q in staff_queries.queries_for(
            page_services.current().book, user.scope_grid)):
        log.warning("staff: %s refused query %s outside grid %s", user.username, query_id, user.scope_grid)
        return message(t.gettext("This case is outside your grid"), "error"), dash.no_update
    text = next((v for v, i in zip(texts, text_ids, strict=True) if int(i["query"]) == query_id), None)
    try:
        staff_queries.answer_query(page_services.current().casework, query_id, actor_of(user), text or "")
    except WorkflowError as exc:
        return message(t.gettext("Not done: {reason}").format(reason=str(exc)), "error"), dash.no_update
    return message(t.gettext("Answer recorded"), "ok"), (done or 0) + 1
