"""``GET /api/live``: the wall's live-video configuration (no secrets: camera URLs never leave the server)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from dashboard.context import current
from dashboard.live import CONFIG_ROUTE, page_config

blueprint = Blueprint("gridwatch_live", __name__)


@blueprint.get(CONFIG_ROUTE)
def live_config() -> Response:
    ctx = current()
    response = jsonify(page_config(ctx.settings, ctx.live_url))
    response.headers["Cache-Control"] = "no-store"
    return response
