"""The Dash shell: pages register themselves from dashboard/pages, the JSON API rides on the same Flask server."""
from __future__ import annotations

import logging
from pathlib import Path

import dash
import redis

from dashboard import api
from dashboard.context import WallContext, attach
from dashboard.queries import AlertRepository
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings, repo: AlertRepository, redis_client: redis.Redis, ws_url: str) -> dash.Dash:
    """A ready WSGI app (``app.server``): the wall at "/", the JSON API, media and MJPEG routes.

    ``ws_url`` is the push websocket the page connects to (``PushServer.url``); a wildcard host in it
    (0.0.0.0) is replaced in the browser by the host the page was loaded from.
    """
    app = dash.Dash(
        "dashboard",
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title=settings.dashboard.title,
        update_title="",  # the tab title stays put while callbacks run
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        add_log_handler=False,  # records go through the logging set up by gridwatch, not a second stdout handler
    )
    attach(app.server, WallContext(settings=settings, repo=repo, redis=redis_client, ws_url=ws_url))
    app.server.register_blueprint(api.blueprint)
    # Dash binds the callbacks that pages declare with dash.callback to whichever app serves its first
    # request; doing that now ties them to this app even when another app is created after it.
    with app.server.test_client() as client:
        client.get("/_dash-layout")
    return app
