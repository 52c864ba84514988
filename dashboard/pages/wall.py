"""The command-centre wall at "/": live video per camera, pushed alerts, today's count, connection state.

Alerts arrive by push (assets/push.js -> dcc.Store -> clientside callbacks in assets/wall.js); the only
interval that reaches the server refreshes camera badges and the day's count, never the alert feed.

Language: ``?lang=`` (the switch in the header), else the browser's cookie, else settings.locale.language.
Times are shown in settings.locale.timezone whatever the zone of the server or the browser.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import dash
import redis
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html

from dashboard import ids, lang, queries, texts
from dashboard.context import current
from gridwatch import timefmt
from gridwatch.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, normalize, translator

log = logging.getLogger(__name__)

LIST_SIZE = 40
CAMERA_REFRESH_MS = 3000
TODAY_REFRESH_MS = 60_000


def _translator() -> Translator:
    return lang.wall_translator(current().settings.locale.language)


def _title(**_path: Any) -> str:
    return texts.title(current().settings, _translator())


dash.register_page(__name__, path="/", name="Wall", title=_title, description="GridWatch command-centre wall")


def _grid_class(n: int) -> str:
    cols = 1 if n <= 1 else 2 if n <= 4 else 3 if n <= 9 else 4
    return f"gw-cams gw-cams-{cols}"


def tile_class(cam: dict[str, Any]) -> str:
    return f"gw-cam gw-cam-{cam['state']}"


def detail_text(cam: dict[str, Any], t: Translator) -> str:
    return texts.camera_detail(cam, t)


def detail_title(cam: dict[str, Any]) -> str:
    """The reader's own error (technical, as logged) on hover; the line itself says it in words."""
    return str(cam.get("error") or "")


def badge_text(cam: dict[str, Any], t: Translator) -> str:
    return texts.state_label(str(cam["state"]), t)


def badge_class(cam: dict[str, Any]) -> str:
    return f"gw-badge gw-badge-{cam['state']}"


def camera_tile(cam: dict[str, Any], t: Translator) -> html.Div:
    cid = str(cam["id"])
    return html.Div(
        id={"type": ids.CAM_TILE, "camera": cid},
        className=tile_class(cam),
        children=[
            html.Div(
                className="gw-cam-video",
                children=html.Img(src=f"/video/{quote(cid, safe='')}.mjpg", className="gw-cam-img",
                                  alt=str(cam["name"])),
            ),
            html.Div(
                className="gw-cam-caption",
                children=[
                    html.Span(str(cam["name"]), className="gw-cam-name"),
                    html.Span(detail_text(cam, t), id={"type": ids.CAM_DETAIL, "camera": cid},
                              className="gw-cam-detail", title=detail_title(cam)),
                    html.Span(badge_text(cam, t), id={"type": ids.CAM_BADGE, "camera": cid},
                              className=badge_class(cam)),
                ],
            ),
        ],
    )


def camera_grid(cams: list[dict[str, Any]], t: Translator) -> list[html.Div]:
    if not cams:
        return [html.Div(texts.no_cameras(t), className="gw-empty")]
    return [camera_tile(c, t) for c in cams]


def camera_names(cams: list[dict[str, Any]]) -> dict[str, str]:
    """Alerts name their camera by id; the wall shows the name."""
    return {str(c["id"]): str(c["name"]) for c in cams}


def online_text(cams: list[dict[str, Any]], t: Translator) -> str:
    return f"{t.number(sum(1 for c in cams if c['state'] == 'online'))}/{t.number(len(cams))}"


def today_text(today: dict[str, Any], t: Translator) -> str:
    return t.number(int(today["count"])) + ("+" if today.get("capped") else "")


def _stat(label: str, value_id: str, value: str) -> html.Div:
    return html.Div(
        className="gw-stat",
        children=[
            html.Div(value, id=value_id, className="gw-stat-value"),
            html.Div(label, className="gw-stat-label"),
        ],
    )


def language_switch(t: Translator) -> html.Nav:
    """Links, not a callback: the page reloads in the chosen language and the server remembers it (cookie)."""
    return html.Nav(
        id=ids.LANG_SWITCH,
        className="gw-lang",
        title=t.gettext("Language"),
        children=[
            html.A(LANGUAGE_NAMES[code], href=f"?{lang.QUERY}={code}", hrefLang=code.replace("_", "-"),
                   className="gw-lang-opt gw-lang-on" if code == t.lang else "gw-lang-opt")
            for code in LANGUAGES
        ],
    )


def _read_cameras() -> list[dict[str, Any]]:
    ctx = current()
    try:
        return queries.camera_views(ctx.redis, ctx.settings.cameras, datetime.now(UTC),
                                    ctx.settings.locale.timezone)
    except redis.RedisError as exc:
        log.warning("wall: camera states unavailable: %s", exc)
        return []


def _read_alerts() -> tuple[str | None, list[dict[str, Any]], dict[str, Any]]:
    """(stream id to resume push from, newest alerts, today's count), read in that order so that an
    alert stored meanwhile is replayed by the push feed rather than lost between the two reads.

    Without Redis the id is None: the page then takes live alerts only instead of replaying the stream.
    """
    ctx = current()
    tz = ctx.settings.locale.timezone
    now = datetime.now(UTC)
    since: str | None = None
    try:
        since = queries.stream_last_id(ctx.redis)
    except redis.RedisError as exc:
        log.warning("wall: alerts stream unavailable: %s", exc)
    try:
        alerts = queries.alert_views(ctx.repo, LIST_SIZE, tz)
        today = queries.today_summary(ctx.repo, now, tz)
    except Exception as exc:  # noqa: BLE001 - the wall still shows video and live pushes without the database
        log.warning("wall: alerts from the database unavailable: %s", exc)
        alerts, today = [], {"day": timefmt.local_day(now, tz).isoformat(), "count": 0, "capped": False}
    return since, alerts, today


def locale_data(t: Translator, tz: str) -> dict[str, Any]:
    """What the browser-side code needs to speak the page's language in the city's time zone."""
    return {"lang": t.lang, "bcp47": t.bcp47, "tz": tz, "texts": texts.browser_texts(t)}


def layout(**query: Any) -> html.Div:
    ctx = current()
    # ?lang= arrives here as a query parameter (the page's own request has it too); else the cookie answers.
    chosen = normalize(query.get(lang.QUERY))
    t = translator(chosen) if chosen else _translator()
    tz = ctx.settings.locale.timezone
    cams = _read_cameras()
    since, alerts, today = _read_alerts()
    words = texts.browser_texts(t)
    push_config = {
        "url": ctx.ws_url,
        "since": since,
        "inbox": ids.PUSH_INBOX,
        "status": ids.CONNECTION,
        "listSize": LIST_SIZE,
        "texts": {k: words[k] for k in ("connecting", "live", "lost")},
    }
    return html.Div(
        className="gw-wall",
        children=[
            dcc.Store(id=ids.LOCALE, data=locale_data(t, tz)),
            dcc.Store(id=ids.PUSH_CONFIG, data=push_config),
            dcc.Store(id=ids.PUSH_INBOX),
            dcc.Store(id=ids.PUSH_STARTED),
            dcc.Store(id=ids.ALERTS_STORE, data={"alerts": alerts, "seen": [a["id"] for a in alerts]}),
            dcc.Store(id=ids.TODAY_STORE, data=today),
            dcc.Store(id=ids.CAMERA_IDS, data=[c["id"] for c in cams]),
            dcc.Store(id=ids.CAMERA_NAMES, data=camera_names(cams)),
            dcc.Interval(id=ids.CLOCK_TICK, interval=1000),
            dcc.Interval(id=ids.CAMERA_REFRESH, interval=CAMERA_REFRESH_MS),
            dcc.Interval(id=ids.TODAY_REFRESH, interval=TODAY_REFRESH_MS),
            html.Header(
                className="gw-header",
                children=[
                    html.Div(className="gw-brand", children=[
                        html.Div("◉", className="gw-logo"),
                        html.H1(texts.title(ctx.settings, t), className="gw-title"),
                    ]),
                    html.Div(className="gw-stats", children=[
                        _stat(t.gettext("Alerts today"), ids.TODAY_COUNT, today_text(today, t)),
                        _stat(t.gettext("Cameras online"), ids.CAMERAS_ONLINE, online_text(cams, t)),
                    ]),
                    html.Div(className="gw-header-right", children=[
                        html.Div(words["connecting"], id=ids.CONNECTION, className="gw-conn gw-conn-connecting"),
                        html.Div(className="gw-clock-box", children=[
                            html.Div(texts.clock_text(datetime.now(UTC), tz, t), id=ids.CLOCK, className="gw-clock"),
                            html.Div(texts.zone_name(tz, t), id=ids.CLOCK_ZONE, className="gw-clock-zone"),
                        ]),
                        language_switch(t),
                    ]),
                ],
            ),
            html.Main(
                className="gw-main",
                children=[
                    html.Section(className="gw-panel gw-video-panel", children=[
                        html.H2(t.gettext("Live video"), className="gw-panel-title"),
                        html.Div(camera_grid(cams, t), id=ids.CAMERA_GRID, className=_grid_class(len(cams))),
                    ]),
                    html.Section(className="gw-panel gw-alert-panel", children=[
                        html.H2(t.gettext("Live alerts"), className="gw-panel-title"),
                        html.Div(id=ids.ALERT_LIST, className="gw-alerts"),
                    ]),
                ],
            ),
        ],
    )


# --- push: browser-side wiring (assets/push.js, assets/wall.js) ---------------------------------------

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="startPush"),
    Output(ids.PUSH_STARTED, "data"),
    Input(ids.PUSH_CONFIG, "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="mergeAlerts"),
    Output(ids.ALERTS_STORE, "data"),
    Output(ids.TODAY_STORE, "data"),
    Input(ids.PUSH_INBOX, "data"),
    State(ids.ALERTS_STORE, "data"),
    State(ids.TODAY_STORE, "data"),
    State(ids.PUSH_CONFIG, "data"),
    State(ids.LOCALE, "data"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="renderAlerts"),
    Output(ids.ALERT_LIST, "children"),
    Input(ids.ALERTS_STORE, "data"),
    Input(ids.CAMERA_NAMES, "data"),
    State(ids.LOCALE, "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="renderToday"),
    Output(ids.TODAY_COUNT, "children"),
    Input(ids.TODAY_STORE, "data"),
    State(ids.LOCALE, "data"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="tick"),
    Output(ids.CLOCK, "children"),
    Input(ids.CLOCK_TICK, "n_intervals"),
    State(ids.LOCALE, "data"),
)


# --- slow server refreshes: camera badges and the day's count -----------------------------------------

def _by_camera(outputs: list[dict[str, Any]], cams: dict[str, dict[str, Any]], part: Any) -> list[Any]:
    return [part(cams[o["id"]["camera"]]) for o in outputs]


@dash.callback(
    Output({"type": ids.CAM_TILE, "camera": ALL}, "className"),
    Output({"type": ids.CAM_DETAIL, "camera": ALL}, "children"),
    Output({"type": ids.CAM_BADGE, "camera": ALL}, "children"),
    Output({"type": ids.CAM_BADGE, "camera": ALL}, "className"),
    Output(ids.CAMERAS_ONLINE, "children"),
    Output(ids.CAMERA_GRID, "children"),
    Output(ids.CAMERA_GRID, "className"),
    Output(ids.CAMERA_IDS, "data"),
    Output(ids.CAMERA_NAMES, "data"),
    Output({"type": ids.CAM_DETAIL, "camera": ALL}, "title"),
    Input(ids.CAMERA_REFRESH, "n_intervals"),
    State(ids.CAMERA_IDS, "data"),
    State(ids.LOCALE, "data"),
    prevent_initial_call=True,
)
def refresh_cameras(_n: int | None, shown: list[str] | None, locale: dict[str, Any] | None) -> tuple[Any, ...]:
    """Badges and details change in place; the grid (and so every video <img>, whose stream would
    restart) is rebuilt only when cameras come or go."""
    t = translator((locale or {}).get("lang")) if locale else _translator()
    cams = _read_cameras()
    now_ids = [c["id"] for c in cams]
    outputs = dash.ctx.outputs_list
    if now_ids != (shown or []):
        keep = [[dash.no_update] * len(o) for o in outputs[:4]]  # wildcard outputs want one per match
        return (*keep, online_text(cams, t), camera_grid(cams, t), _grid_class(len(cams)), now_ids,
                camera_names(cams), [dash.no_update] * len(outputs[9]))
    by_id = {c["id"]: c for c in cams}
    return (
        _by_camera(outputs[0], by_id, tile_class),
        _by_camera(outputs[1], by_id, lambda c: detail_text(c, t)),
        _by_camera(outputs[2], by_id, lambda c: badge_text(c, t)),
        _by_camera(outputs[3], by_id, badge_class),
        online_text(cams, t),
        dash.no_update,
        dash.no_update,
        dash.no_update,
        dash.no_update,
        _by_camera(outputs[9], by_id, detail_title),
    )


@dash.callback(
    Output(ids.TODAY_STORE, "data", allow_duplicate=True),
    Input(ids.TODAY_REFRESH, "n_intervals"),
    prevent_initial_call=True,
)
def refresh_today(_n: int | None) -> Any:
    ctx = current()
    try:
        return queries.today_summary(ctx.repo, datetime.now(UTC), ctx.settings.locale.timezone)
    except Exception as exc:  # noqa: BLE001 - keep the last count on screen while the database is away
        log.warning("wall: today's count not refreshed: %s", exc)
        return dash.no_update
