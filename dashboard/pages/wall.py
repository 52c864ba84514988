"""The command-centre wall at "/": video tiles, the day's figures, the grid map and the pushed alert queue.

Alerts arrive by push (assets/push.js -> dcc.Store -> clientside callbacks in assets/wall.js); while the
push connection is down the page says so in a red banner and greys what may be stale. The day's figures and
the grid map follow a one-second poll of dashboard.wall_data's shared summary (and every pushed alert), which
answers "no change" without a body; camera badges refresh every few seconds. Video tiles (layouts 1/4/9/16,
paged) poll single JPEG frames from /video/<id>.jpg, see the note at camera_grid.

Language: ``?lang=`` (the switch in the header), else the browser's cookie, else settings.locale.language.
Times are shown in settings.locale.timezone whatever the zone of the server or the browser.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
import redis
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import ids, lang, map_leaflet, map_tiles, scoped, texts, wall_data, wall_queries
from dashboard import map as gridmap
from dashboard.auth import session
from dashboard.context import current
from dashboard.frame import locale_translator, page_links, page_translator
from geo.scope import within
from gridwatch import timefmt
from gridwatch.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, category_name

log = logging.getLogger(__name__)

LIST_SIZE = 40
CAMERA_REFRESH_MS = 3000
TODAY_REFRESH_MS = 60_000


def _title(**_path: Any) -> str:
    return texts.title(current().settings, page_translator())


dash.register_page(__name__, path="/", name="Wall", title=_title, description="GridWatch command-centre wall")


TILE_LAYOUTS = (1, 4, 9, 16)
# Frames per second each tile polls /video/<id>.jpg at, by layout: the workers publish previews at 5 fps,
# and a 16th of a screen shows no more at 2 fps while costing the browser and the server half as much.
FRAME_FPS = {1: 5.0, 4: 4.0, 9: 3.0, 16: 2.0}
SUMMARY_REFRESH_MS = 1000
SUMMARY_URL = "/api/wall/summary"
AGE_REFRESH_MS = 15_000


def default_layout(n_cameras: int) -> int:
    """The smallest layout that shows every camera, 16 when they need paging."""
    return next((n for n in TILE_LAYOUTS if n >= n_cameras), TILE_LAYOUTS[-1])


def grid_class(layout: int) -> str:
    cols = max(1, round(layout ** 0.5))
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


def _clock_data(tz: str, t: Translator) -> dict[str, Any]:
    return {"data-tz": tz, "data-bcp47": t.bcp47}


def _data_cam(cid: str) -> dict[str, Any]:
    """The tile's data-cam attribute, by which wall.js applies camera states (see refresh_cameras)."""
    return {"data-cam": cid}


def _data_camera(cid: str) -> dict[str, Any]:
    """The data-camera attribute wall.js finds tiles by (a keyword Dash accepts but its stubs do not type)."""
    return {"data-camera": cid}


def camera_tile(cam: dict[str, Any], t: Translator, visible: bool = True) -> html.Div:
    cid = str(cam["id"])
    position = cam.get("position")
    return html.Div(
        id={"type": ids.CAM_TILE, "camera": cid},
        className=tile_class(cam),
        **_data_cam(cid),
        style=None if visible else {"display": "none"},
        children=[
            html.Div(
                className="gw-cam-video",
                children=[
                    # No src: assets/wall.js fetches frames for the tiles on screen (see the note below).
                    html.Img(className="gw-cam-img", alt=str(cam["name"]), **_data_camera(cid)),
                    html.Span(texts.position_text(position, t), className="gw-cam-pos",
                              title=texts.position_title(position, t)),
                ],
            ),
            html.Div(
                className="gw-cam-caption",
                children=[
                    html.Span(str(cam["name"]), className="gw-cam-name"),
                    html.Span(detail_text(cam, t), className="gw-cam-detail", title=detail_title(cam)),
                    html.Span(badge_text(cam, t), className=badge_class(cam)),
                    pin_button(cid, t),
                ],
            ),
        ],
    )


# Why tiles poll single JPEGs: a browser opens at most 6 HTTP/1.1 connections per host, and each MJPEG
# stream holds one for good, so a 16-tile wall would show 6 tiles and stall the rest (and the page's own
# callbacks). Short requests share the connections; a tile asks for its next frame only when the last one
# has arrived, so a slow browser slows only itself and the server never queues frames for it.


def camera_grid(cams: list[dict[str, Any]], t: Translator, layout: int | None = None) -> list[html.Div]:
    if not cams:
        return [html.Div(texts.no_cameras(t), className="gw-empty")]
    shown = layout or default_layout(len(cams))
    return [camera_tile(c, t, visible=i < shown) for i, c in enumerate(cams)]


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


def page_nav(t: Translator) -> html.Nav:
    """The other pages this user may open, and logging out (the wall is often the first page after login)."""
    user = session.current_user()
    links = [html.A(text, href=href, className="gw-lang-opt") for href, text in page_links(t, user) if href != "/"]
    if user is not None and user is not session.ANONYMOUS:
        links.append(html.A(t.gettext("Log out"), href="/logout", className="gw-lang-opt"))
    return html.Nav(id=ids.PAGE_NAV, className="gw-lang gw-page-nav-wall", children=links)


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
    now = datetime.now(UTC)
    try:
        cams = wall_queries.camera_views(ctx.redis, ctx.settings.cameras, now, ctx.settings.locale.timezone)
        places = wall_queries.camera_positions(ctx.redis, ctx.settings.cameras, [c["id"] for c in cams],
                                          ctx.settings.ingest.telemetry_vehicles, now)
    except redis.RedisError as exc:
        log.warning("wall: camera states unavailable: %s", exc)
        return []
    for cam in cams:
        cam["position"] = places.get(cam["id"])
    return cams


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
        since = wall_queries.stream_last_id(ctx.redis)
    except redis.RedisError as exc:
        log.warning("wall: alerts stream unavailable: %s", exc)
    try:
        # A grid-scoped viewer sees its subtree's alerts only, as the push feed sends them (dashboard.auth.session).
        alerts = [a for a in wall_queries.alert_views(ctx.repo, LIST_SIZE, tz) if session.in_scope(a.get("grid_code"))]
        today = wall_queries.today_summary(ctx.repo, now, tz, in_scope=session.in_scope)
    except Exception as exc:  # noqa: BLE001 - the wall still shows video and live pushes without the database
        log.warning("wall: alerts from the database unavailable: %s", exc)
        alerts, today = [], {"day": timefmt.local_day(now, tz).isoformat(), "count": 0, "capped": False}
    return since, alerts, today


def _scope() -> str | None:
    """The grid subtree the viewer is limited to (None: the whole territory)."""
    return session.scope_filter()


def _read_summary() -> dict[str, Any] | None:
    try:
        return wall_data.current_data().summary(scope=_scope())
    except Exception as exc:  # noqa: BLE001 - the wall keeps video and alerts when the case tables are away
        log.warning("wall: figures and grid map unavailable: %s", exc)
        return None


def locale_data(t: Translator, tz: str) -> dict[str, Any]:
    """What the browser-side code needs to speak the page's language in the city's time zone."""
    return {"lang": t.lang, "bcp47": t.bcp47, "tz": tz, "texts": texts.browser_texts(t),
            "priorities": wall_queries.PRIORITIES, "defaultPriority": wall_queries.DEFAULT_PRIORITY}


# --- the day's figures and the grid map -------------------------------------------------------------

def figures_panel(figures: dict[str, Any], t: Translator) -> html.Div:
    return html.Div(
        id=ids.FIGURES,
        className="gw-figures",
        children=[
            html.Div(className=f"gw-figure gw-figure-{key}", children=[
                html.Div(texts.figure_value(key, figures, t), id=ids.figure_id(key), className="gw-figure-value"),
                html.Div(t.gettext(label), className="gw-figure-label"),
            ])
            for key, label in texts.FIGURE_LABELS
        ],
    )


def map_texts(t: Translator) -> gridmap.MapTexts:
    return gridmap.MapTexts(open=t.gettext("Open cases"), overdue=t.gettext("Overdue"), alert=t.gettext("Alert"),
                            vehicle=t.gettext("Vehicle"), states={
                                "on_patrol": t.gettext("On patrol"), "paused": t.gettext("Paused"),
                                "off_duty": t.gettext("Off duty"), "online": t.gettext("Link up"),
                                "offline": t.gettext("Link down")})


def build_map(summary: dict[str, Any] | None, focus: str | None, t: Translator,
              scope: str | None = None) -> gridmap.GridMap:
    """The map of ``focus``; None is the top: the whole territory, or the viewer's ``scope`` grid."""
    features = wall_data.current_data().grids().features if summary is not None else []
    counts = (summary or {}).get("counts", {})
    points = [dict(p, label=category_name(p["category"], t.lang)) for p in (summary or {}).get("points", [])]
    vehicles = viewer_vehicles((summary or {}).get("vehicles", []))  # the fleet's, via dashboard.wall_data
    return gridmap.grid_map(features, counts, focus or scope, alerts=points, vehicles=vehicles,
                            texts=map_texts(t))


def viewer_vehicles(vehicles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary's cars (every car: it is shared by all viewers) cut to what this viewer may see, as GET
    /api/vehicles cuts them (dashboard.scoped.vehicles: a car while its last fix lies in their subtree)."""
    user = session.current_user() or session.ANONYMOUS
    return scoped.vehicles(user, [{**v, "last_fix": {"lat": v.get("lat"), "lon": v.get("lon")}} for v in vehicles])


def build_tiled(source: map_tiles.TileSource, summary: dict[str, Any] | None, focus: str | None, t: Translator,
                scope: str | None = None) -> tuple[list[dict[str, Any]], list[list[float]] | None]:
    """The tiled map's layers and view for the viewer (dashboard/map_leaflet.py), as build_map for the plain one."""
    features = wall_data.current_data().grids().features if summary is not None else []
    return map_leaflet.tiled_view(source, features, (summary or {}).get("counts", {}), focus or scope, t,
                                  map_texts(t), session.current_user() or session.ANONYMOUS)


def crumbs(focus: str | None, t: Translator, scope: str | None = None) -> list[Any]:
    """Whole territory (or the viewer's scope grid) > office > community > grid: each a button to that level."""
    try:
        path = gridmap.focus_path(wall_data.current_data().grids().features, focus or scope)
    except Exception as exc:  # noqa: BLE001 - no grid map: the crumb bar just names the territory
        log.warning("wall: grid map unavailable: %s", exc)
        path = []
    items: list[Any] = []
    if scope is None:
        items.append(html.Button(t.gettext("Whole territory"), id={"type": ids.MAP_CRUMB, "code": ""},
                                 className="gw-crumb" + ("" if path else " gw-crumb-on")))
    else:  # the viewer's own grid is the top; nothing above it is theirs to open
        path = [f for f in path if within(f.code, scope)]
    for i, f in enumerate(path):
        if items:
            items.append(html.Span("›", className="gw-crumb-sep"))
        items.append(html.Button(f.name, id={"type": ids.MAP_CRUMB, "code": "" if f.code == scope else f.code},
                                 className="gw-crumb" + (" gw-crumb-on" if i == len(path) - 1 else "")))
    return items


def totals_text(totals: dict[str, Any], t: Translator) -> list[Any]:
    return [
        html.Span(t.gettext("Open cases") + " ", className="gw-total-label"),
        html.B(t.number(int(totals.get("open", 0))), className="gw-total-open"),
        html.Span(" · " + t.gettext("Overdue") + " ", className="gw-total-label"),
        html.B(t.number(int(totals.get("overdue", 0))), className="gw-total-overdue"),
    ]


def legend(t: Translator) -> html.Div:
    return html.Div(className="gw-legend", children=[
        html.Span([html.I(className=f"gw-swatch gw-swatch-{k}"), label])
        for k, label in ((gridmap.OK, t.gettext("No open cases")), (gridmap.OPEN, t.gettext("Open cases")),
                         (gridmap.OVERDUE, t.gettext("Overdue")))
    ])


def initial_queue(shown: dict[str, Any], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The queue store a wall starts with: the open cases, or (case tables away) the newest alerts."""
    items = shown.get("queue")
    if items is None:
        items = alerts
    return {"alerts": items, "seen": [a["id"] for a in alerts]}


def layout(**query: Any) -> html.Div:
    ctx = current()
    t = page_translator(query)  # the wall is open to every user: of the pages' set-up it takes the language
    tz = ctx.settings.locale.timezone
    cams = _read_cameras()
    since, alerts, today = _read_alerts()
    names_of_cameras = camera_names(cams)
    for a in alerts:
        a["camera_name"] = names_of_cameras.get(str(a["camera_id"]))
    scope = _scope()
    summary = _read_summary()
    shown = wall_data.browser_summary(summary)
    source = map_tiles.tile_source(ctx.settings.map)
    tiled, tiled_bounds = map_leaflet.empty_layers(), None
    try:
        the_map = build_map(summary, None, t, scope) if source is None else gridmap.grid_map([], {})
        names = wall_data.current_data().grids().names
        if source is not None:
            tiled, tiled_bounds = build_tiled(source, summary, None, t, scope)
    except Exception as exc:  # noqa: BLE001 - the wall without its map still shows video and alerts
        log.warning("wall: grid map unavailable: %s", exc)
        the_map, names = gridmap.grid_map([], {}), {}
    words = texts.browser_texts(t)
    push_config = {
        "url": ctx.ws_url,
        "since": since,
        "inbox": ids.PUSH_INBOX,
        "status": ids.CONNECTION,
        "listSize": LIST_SIZE,
        "samePlaceM": ctx.settings.cases.dedup_distance_m,  # a pushed sighting this close bumps the item there
        "texts": {k: words[k] for k in ("connecting", "live", "lost")},
    }
    start_layout = default_layout(len(cams))
    return html.Div(
        className="gw-wall",
        children=[
            dcc.Store(id=ids.LOCALE, data=locale_data(t, tz)),
            dcc.Store(id=ids.PUSH_CONFIG, data=push_config),
            dcc.Store(id=ids.PUSH_INBOX),
            dcc.Store(id=ids.PUSH_STARTED),
            dcc.Store(id=ids.PUSH_SEQ),
            # One item per problem: the open cases (wall_data.case_queue); pushed alerts bump the item of their
            # place at once (assets/wall.js), and each new summary brings the cases as stored.
            dcc.Store(id=ids.ALERTS_STORE, data=initial_queue(shown, alerts)),
            dcc.Store(id=ids.TODAY_STORE, data=today),
            dcc.Store(id=ids.CAMERA_IDS, data=[c["id"] for c in cams]),
            dcc.Store(id=ids.CAMERA_NAMES, data=camera_names(cams)),
            dcc.Store(id=ids.CAMERA_NAMES_SEEN),
            dcc.Store(id=ids.ALERTS_RENDERED),
            dcc.Store(id=ids.ALERT_LIST_ID, data=ids.ALERT_LIST),
            dcc.Store(id=ids.CAMERA_STATES),
            dcc.Store(id=ids.CAMERA_STATES_APPLIED),
            dcc.Store(id=ids.GRID_NAMES, data=names),
            dcc.Store(id=ids.SUMMARY, data=shown),
            dcc.Store(id=ids.MAP_FOCUS, data=None),
            dcc.Store(id=ids.MAP_CODES, data=the_map.trace_codes),
            dcc.Store(id=ids.PAGE_STORE, data={"page": 0}),
            dcc.Store(id=ids.TILE_CONFIG, data={"prev": ids.PAGE_PREV, "next": ids.PAGE_NEXT,
                                                "layout": ids.TILE_LAYOUT, "fps": FRAME_FPS}),
            # Polled by assets/wall.js with plain fetch (204 while unchanged), not a Dash interval: an idle
            # wall then costs the browser and the server next to nothing between changes.
            dcc.Store(id=ids.SUMMARY_STARTED),
            dcc.Store(id=ids.SUMMARY_POLL, data={"url": SUMMARY_URL, "store": ids.SUMMARY,
                                                 "everyMs": SUMMARY_REFRESH_MS}),
            *focus_stores(t),
            dcc.Interval(id=ids.CAMERA_REFRESH, interval=CAMERA_REFRESH_MS),
            dcc.Interval(id=ids.TODAY_REFRESH, interval=TODAY_REFRESH_MS),
            dcc.Interval(id=ids.AGE_TICK, interval=AGE_REFRESH_MS),
            html.Div(words["lostBanner"], id=ids.LOST_BANNER, className="gw-lost-banner", role="alert"),
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
                            # assets/wall.js ticks it every second in the city's zone (no Dash round trip).
                            html.Div(texts.clock_text(datetime.now(UTC), tz, t), id=ids.CLOCK, className="gw-clock",
                                     **_clock_data(tz, t)),
                            html.Div(texts.zone_name(tz, t), id=ids.CLOCK_ZONE, className="gw-clock-zone"),
                        ]),
                        html.Div(className="gw-header-links", children=[page_nav(t), language_switch(t)]),
                    ]),
                ],
            ),
            html.Main(
                className="gw-main",
                children=[
                    focus_tile(t),
                    html.Section(className="gw-panel gw-video-panel", children=[
                        html.Div(className="gw-panel-head", children=[
                            html.H2(t.gettext("Live video"), className="gw-panel-title"),
                            html.Div(className="gw-tile-controls", children=[
                                dcc.RadioItems(
                                    id=ids.TILE_LAYOUT, className="gw-layouts", inline=True,
                                    options=[{"label": str(n), "value": n} for n in TILE_LAYOUTS],
                                    value=start_layout, persistence=True, persistence_type="local",
                                ),
                                html.Div(id=ids.PAGER, className="gw-pager", children=[
                                    html.Button("‹", id=ids.PAGE_PREV, className="gw-page-btn",
                                                title=t.gettext("Previous page")),
                                    html.Span("1 / 1", id=ids.PAGE_TEXT, className="gw-page-text"),
                                    html.Button("›", id=ids.PAGE_NEXT, className="gw-page-btn",
                                                title=t.gettext("Next page")),
                                ]),
                            ]),
                        ]),
                        html.Div(camera_grid(cams, t, start_layout), id=ids.CAMERA_GRID,
                                 className=grid_class(start_layout)),
                    ]),
                    html.Div(className="gw-centre", children=[
                        html.Section(className="gw-panel gw-figures-panel", children=[
                            html.H2(t.gettext("Today's cases"), className="gw-panel-title"),
                            figures_panel(shown["figures"], t),
                        ]),
                        html.Section(className="gw-panel gw-map-panel", children=[
                            html.Div(className="gw-panel-head", children=[
                                html.H2(t.gettext("Grid map"), className="gw-panel-title"),
                                html.Div(totals_text(shown["totals"], t), id=ids.MAP_TOTALS, className="gw-totals"),
                            ]),
                            html.Nav(crumbs(None, t, scope), id=ids.MAP_CRUMBS, className="gw-crumbs"),
                            dcc.Graph(id=ids.MAP_GRAPH, figure=the_map.figure,
                                      className="gw-map" + ("" if source is None else " gw-map-hidden"),
                                      config={"displayModeBar": False, "scrollZoom": False,
                                              "doubleClick": False, "responsive": True}),
                            # With a tile source the tiled map takes the plain one's place (dashboard/map_leaflet.py).
                            map_leaflet.panel(source, tiled, tiled_bounds, t),
                            legend(t),
                        ]),
                    ]),
                    html.Section(className="gw-panel gw-alert-panel", children=[
                        html.H2(t.gettext("Live alerts"), className="gw-panel-title"),
                        # Filled by assets/wall.js (renderAlerts) as plain DOM; Dash never sets its children.
                        html.Div(id=ids.ALERT_LIST, className="gw-alerts"),
                    ]),
                ],
            ),
        ],
    )


# --- the focus tile: an urgent alarm (or a camera an operator pins) takes the screen (assets/focus.js) ---

# The categories whose alerts take the screen: those the wall ranks "Urgent" (wall_queries.PRIORITIES, 1 = most).
URGENT_PRIORITY = 1
# An alert older than this does not take the screen (the push feed replays what a wall missed while away).
FOCUS_MAX_AGE_S = 300
# The alert's clip is written a few seconds after it (the pre-roll plus the seconds after): asked for this often.
CLIP_POLL_MS = 2000
# A problem the operator released does not take the screen again for this long when seen again (a patrol car's
# next lap past it); its sightings still bump its queue item.
RELEASED_QUIET_S = 600
DESK_PATH = "/desk"


def urgent_categories() -> list[str]:
    return sorted(code for code, prio in wall_queries.PRIORITIES.items() if prio == URGENT_PRIORITY)


def focus_texts(t: Translator) -> dict[str, str]:
    """The focus tile's words in the page's language (focus.js holds none)."""
    return {
        "urgent": t.gettext(texts.PRIORITY_LABELS[URGENT_PRIORITY]),
        "pinned": t.gettext("Pinned camera"),
        "live": t.gettext("Live video"),
        "clip": t.gettext("Pre-roll clip"),
        "noClip": t.gettext("The clip is not written yet"),
        "grid": t.gettext("Grid"),
        "position": t.gettext("Position"),
        "camera": t.gettext("Camera"),
        "case": t.gettext("Case"),
        "noCase": t.gettext("Waiting for its case…"),
        "noGrid": t.gettext("No grid"),
        "deskKey": t.gettext("D: open it on the desk"),
        "escKey": t.gettext("Esc: release"),
    }


def focus_config(t: Translator) -> dict[str, Any]:
    return {"root": ids.FOCUS, "urgent": urgent_categories(), "maxAgeS": FOCUS_MAX_AGE_S,
            "clipPollMs": CLIP_POLL_MS, "alertsUrl": "/api/alerts?limit=50", "videoUrl": "/video/",
            "deskUrl": DESK_PATH, "quietS": RELEASED_QUIET_S,
            # The server's clock when the page was made: alert ages are reckoned on it, not on the wall PC's own.
            "serverNowMs": round(datetime.now(UTC).timestamp() * 1000),
            # "The same problem" as the case consumer reckons it: same category within cases.dedup_distance_m.
            "samePlaceM": current().settings.cases.dedup_distance_m, "texts": focus_texts(t)}


def focus_stores(t: Translator) -> list[dcc.Store]:
    return [dcc.Store(id=ids.FOCUS_CONFIG, data=focus_config(t)), dcc.Store(id=ids.FOCUS_OPENED),
            dcc.Store(id=ids.FOCUS_CASED)]


def pin_button(cid: str, t: Translator) -> html.Button:
    """Pins the tile's camera to the focus tile (assets/focus.js listens for clicks on any of these)."""
    return html.Button("⤢", className="gw-cam-pin", title=t.gettext("Pin to the focus tile"),
                       **_attrs({"data-pin": cid}))


def _attrs(values: dict[str, str]) -> dict[str, Any]:
    """data-/aria- attributes (keywords Dash accepts but its stubs do not type)."""
    return dict(values)


def focus_tile(t: Translator) -> html.Section:
    """The focus tile's frame, hidden until an alarm or a pin opens it: focus.js fills in the camera, the clip
    and the facts as plain DOM and shows it (Dash never updates it, so React keeps what focus.js wrote)."""
    return html.Section(id=ids.FOCUS, className="gw-focus", role="dialog",
                        **_attrs({"aria-live": "assertive"}), children=[
        html.Div(className="gw-focus-head", children=[
            html.Span(className="gw-focus-badge"),
            html.Span(className="gw-focus-cat"),
            html.Span(className="gw-focus-camera"),
            html.Span(className="gw-focus-time"),
        ]),
        html.Div(className="gw-focus-media", children=[
            html.Figure(className="gw-focus-pane gw-focus-live", children=[
                html.Div(className="gw-focus-frame", children=[
                    html.Img(className="gw-focus-preview", alt=""),
                    html.Video(className="gw-focus-video", muted=True),
                    html.Span(t.gettext("No picture: this camera is not on your wall"), className="gw-focus-nolive"),
                ]),
                html.Figcaption(t.gettext("Live video")),
            ]),
            html.Figure(className="gw-focus-pane gw-focus-clip", children=[
                html.Div(className="gw-focus-frame", children=[
                    html.Img(className="gw-focus-snapshot", alt=""),
                    html.Video(className="gw-focus-clipvideo", muted=True, loop=True, autoPlay=True),
                    html.Div(className="gw-focus-box"),  # focus.js draws the detection box in here (SVG)
                ]),
                html.Figcaption(t.gettext("Pre-roll clip"), className="gw-focus-clip-caption"),
            ]),
        ]),
        html.Dl(className="gw-focus-facts", children=[
            html.Dt(t.gettext("Grid")), html.Dd(className="gw-focus-grid"),
            html.Dt(t.gettext("Position")), html.Dd(className="gw-focus-position"),
            html.Dt(t.gettext("Case")), html.Dd(className="gw-focus-case"),
        ]),
        html.Div(className="gw-focus-keys", children=[
            html.Button(t.gettext("D: open it on the desk"), className="gw-focus-desk"),
            html.Button(t.gettext("Esc: release"), className="gw-focus-release"),
        ]),
    ])


dash.clientside_callback(
    ClientsideFunction(namespace="gridwatchFocus", function_name="onPush"),
    Output(ids.FOCUS_OPENED, "data"),
    Input(ids.PUSH_INBOX, "data"),
    State(ids.FOCUS_CONFIG, "data"),
    State(ids.GRID_NAMES, "data"),
    State(ids.LOCALE, "data"),
)

# The queue (open cases, from each summary) says which case an alarm's alert joined: the desk key opens that one.
dash.clientside_callback(
    ClientsideFunction(namespace="gridwatchFocus", function_name="onQueue"),
    Output(ids.FOCUS_CASED, "data"),
    Input(ids.ALERTS_STORE, "data"),
    prevent_initial_call=True,
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
    ClientsideFunction(namespace="gridwatch", function_name="queueFromSummary"),
    Output(ids.ALERTS_STORE, "data", allow_duplicate=True),
    Input(ids.SUMMARY, "data"),
    State(ids.ALERTS_STORE, "data"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="pushSeq"),
    Output(ids.PUSH_SEQ, "data"),
    Input(ids.PUSH_INBOX, "data"),
    prevent_initial_call=True,
)

# The queue must not depend on any output of a server callback (the camera refresh every few seconds): Dash
# holds a callback back while anything upstream of it is in flight, and a pushed alert would wait for it.
# Camera names reach renderAlerts through rememberCameras instead.
dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="rememberCameras"),
    Output(ids.CAMERA_NAMES_SEEN, "data"),
    Input(ids.CAMERA_NAMES, "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="renderAlerts"),
    Output(ids.ALERTS_RENDERED, "data"),
    Input(ids.ALERTS_STORE, "data"),
    Input(ids.AGE_TICK, "n_intervals"),
    State(ids.GRID_NAMES, "data"),
    State(ids.LOCALE, "data"),
    State(ids.ALERT_LIST_ID, "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="renderToday"),
    Output(ids.TODAY_COUNT, "children"),
    Input(ids.TODAY_STORE, "data"),
    State(ids.LOCALE, "data"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="startSummary"),
    Output(ids.SUMMARY_STARTED, "data"),
    Input(ids.SUMMARY_POLL, "data"),
    State(ids.SUMMARY, "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="renderFigures"),
    [Output(ids.figure_id(key), "children") for key, _label in texts.FIGURE_LABELS],
    Input(ids.SUMMARY, "data"),
    State(ids.LOCALE, "data"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="pageTiles"),
    Output(ids.PAGE_STORE, "data"),
    Output(ids.CAMERA_GRID, "className"),
    Output(ids.PAGE_TEXT, "children"),
    Output(ids.PAGER, "className"),
    Output({"type": ids.CAM_TILE, "camera": ALL}, "style"),
    Input(ids.TILE_LAYOUT, "value"),
    Input(ids.PAGE_PREV, "n_clicks"),
    Input(ids.PAGE_NEXT, "n_clicks"),
    Input(ids.CAMERA_IDS, "data"),
    State(ids.PAGE_STORE, "data"),
    State(ids.TILE_CONFIG, "data"),
)


# --- slow server refreshes: camera badges and the day's count -----------------------------------------

def camera_state_view(cam: dict[str, Any], t: Translator) -> dict[str, str]:
    """What a tile shows of its camera's state, as wall.js writes it into the tile."""
    position = cam.get("position")
    return {
        "tile": tile_class(cam), "detail": detail_text(cam, t), "error": detail_title(cam),
        "badge": badge_text(cam, t), "badgeClass": badge_class(cam),
        "position": texts.position_text(position, t), "positionTitle": texts.position_title(position, t),
    }


@dash.callback(
    Output(ids.CAMERA_STATES, "data"),
    Output(ids.CAMERAS_ONLINE, "children"),
    Output(ids.CAMERA_GRID, "children"),
    Output(ids.CAMERA_IDS, "data"),
    Output(ids.CAMERA_NAMES, "data"),
    Input(ids.CAMERA_REFRESH, "n_intervals"),
    State(ids.CAMERA_IDS, "data"),
    State(ids.LOCALE, "data"),
    State(ids.TILE_LAYOUT, "value"),
    prevent_initial_call=True,
)
def refresh_cameras(
    _n: int | None, shown: list[str] | None, locale: dict[str, Any] | None, chosen: int | None
) -> tuple[Any, ...]:
    """Badges, details and positions as one store that wall.js writes into the tiles: one small update,
    not a pattern-matching output per tile and part (which costs Dash's renderer seconds on a 16-tile
    wall and holds back the queue meanwhile). The grid (and so every video <img>) is rebuilt only when
    cameras come or go."""
    t = locale_translator(locale)
    cams = _read_cameras()
    now_ids = [c["id"] for c in cams]
    states = {str(c["id"]): camera_state_view(c, t) for c in cams}
    if now_ids != (shown or []):
        return states, online_text(cams, t), camera_grid(cams, t, chosen), now_ids, camera_names(cams)
    return states, online_text(cams, t), dash.no_update, dash.no_update, dash.no_update


dash.clientside_callback(
    ClientsideFunction(namespace="gridwatch", function_name="applyCameraStates"),
    Output(ids.CAMERA_STATES_APPLIED, "data"),
    Input(ids.CAMERA_STATES, "data"),
    prevent_initial_call=True,
)


@dash.callback(
    Output(ids.TODAY_STORE, "data", allow_duplicate=True),
    Input(ids.TODAY_REFRESH, "n_intervals"),
    prevent_initial_call=True,
)
def refresh_today(_n: int | None) -> Any:
    ctx = current()
    try:
        return wall_queries.today_summary(ctx.repo, datetime.now(UTC), ctx.settings.locale.timezone,
                                     in_scope=session.in_scope)
    except Exception as exc:  # noqa: BLE001 - keep the last count on screen while the database is away
        log.warning("wall: today's count not refreshed: %s", exc)
        return dash.no_update


# --- figures and map: the summary store is fed by wall.js's poll of SUMMARY_URL ------------------------

@dash.callback(
    Output(ids.MAP_GRAPH, "figure"),
    Output(ids.MAP_CODES, "data"),
    Output(ids.MAP_CRUMBS, "children"),
    Output(ids.MAP_TOTALS, "children"),
    *[Output(layer, "data") for layer in map_leaflet.LAYERS],
    Output(map_leaflet.MAP, "viewport"),
    Output(map_leaflet.VERSIONS, "data"),
    Input(ids.SUMMARY, "data"),
    Input(ids.MAP_FOCUS, "data"),
    State(ids.LOCALE, "data"),
    State(map_leaflet.VERSIONS, "data"),
    prevent_initial_call=True,
)
def render_map(shown: dict[str, Any] | None, focus: str | None, locale: dict[str, Any] | None,
               sent: list[str] | None) -> tuple[Any, ...]:
    """The plain map, or with a tile source the tiled map's layers (the other map's outputs stay as they are)."""
    t = locale_translator(locale)
    summary = _read_summary()
    if summary is None:
        raise PreventUpdate
    scope = _scope()
    focus_changed = dash.ctx.triggered_id == ids.MAP_FOCUS
    the_crumbs = crumbs(focus, t, scope) if focus_changed else dash.no_update
    source = map_tiles.tile_source(current().settings.map)
    if source is not None:
        layers, bounds = build_tiled(source, summary, focus, t, scope)
        news, now_sent = map_leaflet.changed(layers, sent)
        return (dash.no_update, dash.no_update, the_crumbs, totals_text(summary["totals"], t), *news,
                map_leaflet.viewport(bounds) if focus_changed else dash.no_update, now_sent)
    the_map = build_map(summary, focus, t, scope)
    return (the_map.figure, the_map.trace_codes, the_crumbs, totals_text(summary["totals"], t),
            *[dash.no_update] * len(map_leaflet.LAYERS), dash.no_update, dash.no_update)


map_leaflet.register_callbacks()


@dash.callback(
    Output(ids.MAP_FOCUS, "data"),
    Input(ids.MAP_GRAPH, "clickData"),
    Input({"type": ids.MAP_CRUMB, "code": ALL}, "n_clicks"),
    Input(map_leaflet.GRIDS, "clickData"),
    State(ids.MAP_FOCUS, "data"),
    State(ids.MAP_CODES, "data"),
    prevent_initial_call=True,
)
def change_focus(click: dict[str, Any] | None, _crumbs: list[int | None], tiled_click: dict[str, Any] | None,
                 focus: str | None, codes: list[str | None] | None) -> Any:
    """A click on a grid (of either map) zooms into it; a crumb goes back to that level."""
    trigger = dash.ctx.triggered_id
    if isinstance(trigger, dict):
        if not any(item.get("value") for item in dash.ctx.triggered):
            raise PreventUpdate  # a crumb button just rendered, not clicked
        wanted = str(trigger.get("code") or "") or None
    else:
        features = wall_data.current_data().grids().features
        clicked = (((tiled_click or {}).get("properties") or {}).get("code") if trigger == map_leaflet.GRIDS
                   else gridmap.clicked_code(click, codes or []))
        wanted = gridmap.next_focus(features, clicked, focus)
    scope = _scope()
    if scope is not None:
        if wanted is not None and not within(wanted, scope):
            raise PreventUpdate  # outside the viewer's grid: checked here, not only by what the map offers
        wanted = None if wanted == scope else wanted
    if wanted == focus:
        raise PreventUpdate
    return wanted
