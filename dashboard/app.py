"""The Dash shell: pages register themselves from dashboard/pages, the API (dashboard/api) rides on the same Flask
server, and both act through the one services bundle attached to it (dashboard.page_services)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import dash
import redis

from alerts.db import QueryError
from alerts.users import UserStore
from dashboard import lang, page_services, texts
from dashboard.api import cameras, cases, evidence, fleet, live, metrics, open311, telemetry, wall
from dashboard.auth import guard, login
from dashboard.context import WallContext, attach
from dashboard.context import current as current_context
from dashboard.wall_queries import AlertRepository
from gridwatch.i18n import translator
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ADMIN_PASSWORD_ENV = "GRIDWATCH_ADMIN_PASSWORD"  # the first admin's password (else one is generated and logged once)
# Every route module of dashboard/api; the wall's first, its hooks answer for the others' unknown paths.
API_BLUEPRINTS = (wall.blueprint, cases.blueprint, evidence.blueprint, open311.blueprint, fleet.blueprint,
                  telemetry.blueprint, cameras.blueprint, metrics.blueprint, live.blueprint)


class _LocalisedDash(dash.Dash):
    """Dash whose page tells the browser its language (<html lang>, so Chinese text gets Chinese glyph
    forms) and carries the title in that language from the first byte."""

    def interpolate_index(
        self, metas: Any = "", title: Any = "", css: Any = "", config: Any = "", scripts: Any = "",
        app_entry: Any = "", favicon: Any = "", renderer: Any = "",
    ) -> Any:
        settings = current_context().settings
        t = lang.wall_translator(settings.locale.language)
        page = str(super().interpolate_index(
            metas=metas, title=texts.title(settings, t), css=css, config=config, scripts=scripts,
            app_entry=app_entry, favicon=favicon, renderer=renderer,
        ))
        return page.replace("<html>", f'<html lang="{t.bcp47}">', 1)


def _user_store(settings: Settings, repo: AlertRepository) -> UserStore | None:
    engine = getattr(repo, "engine", None)
    if engine is None:
        return None
    store = UserStore(engine)
    try:
        login.bootstrap_users(store, settings, os.environ.get(ADMIN_PASSWORD_ENV) or None)
    except QueryError as exc:
        # The wall still starts (and /healthz says what is wrong); logins fail until the database answers.
        log.error("users could not be checked at start: %s", exc)
    return store


def create_app(
    settings: Settings,
    repo: AlertRepository,
    redis_client: redis.Redis,
    ws_url: str,
    services: page_services.PageServices | None = None,
    live_url: str | None = None,
) -> dash.Dash:
    """A ready WSGI app (``app.server``): the wall at "/", every route of dashboard/api.

    ``ws_url`` is the push websocket the page connects to (``PushServer.url``); a wildcard host in it
    (0.0.0.0) is replaced in the browser by the host the page was loaded from. ``services`` is the process's
    bundle (``page_services.build``); without one the app builds its own on first use. ``live_url`` is the live
    video socket's (``LiveServer.url``; None when this dashboard runs none).
    """
    app = _LocalisedDash(
        "dashboard",
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title=texts.title(settings, translator(settings.locale.language)),
        update_title="",  # the tab title stays put while callbacks run
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        add_log_handler=False,  # records go through the logging set up by gridwatch, not a second stdout handler
        # Dash checks each callback's ids against a "validation layout", which for pages it builds by calling
        # every page's layout once, outside any login: our pages answer that call with their "not allowed"
        # card (the layout depends on the viewer's role), and their panels (the desk's case detail, the
        # replay's player) are built later by callbacks. So no layout holds every id, and the check made every
        # page log ~100 "ID not found in layout" errors for the other pages' callbacks, hiding real ones. The
        # browser tests open each page as its role and fail on any console error instead
        # (tests/dashboard/test_console_clean_browser.py).
        suppress_callback_exceptions=True,
    )
    attach(app.server, WallContext(settings=settings, repo=repo, redis=redis_client, ws_url=ws_url,
                                   live_url=live_url))
    if services is not None:
        page_services.attach(app.server, services)
    # Before the API's own hooks: an unknown /api/ path without a login is a 401, not a hint of what exists.
    guard.init_auth(app.server, settings, _user_store(settings, repo))
    for blueprint in API_BLUEPRINTS:
        app.server.register_blueprint(blueprint)
    # Dash binds the callbacks that pages declare with dash.callback to whichever app serves its first
    # request; doing that now ties them to this app even when another app is created after it.
    with app.server.test_client() as client:
        client.get("/_dash-layout")
    return app
