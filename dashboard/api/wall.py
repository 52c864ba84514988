"""The wall's JSON API (health, cameras, alerts, the wall's summary), media and video routes, and the hooks every
API answer passes (a JSON 404 for unknown API paths, ``Content-Language``).

Error messages are in the client's language (``?lang=``, the wall's cookie, ``Accept-Language``; zh_CN by
default) and say so in ``Content-Language``; field names and codes stay English for programs.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import flask
import redis
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from dashboard import lang, mjpeg, scoped, wall_data, wall_queries
from dashboard.api.common import api_translator, error
from dashboard.auth import session
from dashboard.context import current
from dashboard.texts import state_label
from gridwatch.i18n import category_name

log = logging.getLogger(__name__)

blueprint = Blueprint("gridwatch_api", __name__)

# Paths the API owns: anything under them that no API route matches is a JSON 404, never the wall's page.
_OWN_PREFIXES = ("/api/", "/media/", "/video/")


@blueprint.before_app_request
def _api_paths_never_fall_through_to_the_page() -> tuple[Response, int] | None:
    # Paths no blueprint owns (unmatched, or caught by the page's catch-all route); other blueprints
    # (telemetry, camera management) serve /api/ routes of their own.
    if request.path.startswith(_OWN_PREFIXES) and request.blueprint is None:
        return error(404, api_translator().gettext("No such resource: {path}").format(path=request.path))
    return None


@blueprint.after_app_request
def _language(response: Response) -> Response:
    if request.blueprint == blueprint.name or request.path.startswith(_OWN_PREFIXES):
        response.headers["Content-Language"] = api_translator().bcp47
        return response
    # Only the wall's own pages remember a choice: an API call with ?lang= answers once, changes nothing.
    return lang.remember_choice(response)


@blueprint.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> tuple[Response, int]:
    return error(404, api_translator().gettext("No such resource: {path}").format(path=request.path))


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    ctx = current()
    body = wall_queries.health(ctx.redis, ctx.repo)
    return jsonify(body), 200 if body["status"] == "ok" else 503


@blueprint.get("/api/cameras")
def cameras() -> Response | tuple[Response, int]:
    ctx = current()
    try:
        views = wall_queries.camera_views(ctx.redis, ctx.settings.cameras, datetime.now(UTC),
                                     ctx.settings.locale.timezone)
    except redis.RedisError as exc:
        log.warning("GET /api/cameras: redis unavailable: %s", exc)
        return error(503, api_translator().gettext("Camera states are unavailable: Redis does not answer"))
    t = api_translator()
    allowed = scoped.cameras_allowed(session.current_user() or session.ANONYMOUS)
    views = [v for v in views if allowed is None or v["id"] in allowed]
    for view in views:
        view["state_text"] = state_label(view["state"], t)
    return jsonify(views)


@blueprint.get("/api/alerts")
def alerts() -> Response | tuple[Response, int]:
    ctx = current()
    t = api_translator()
    try:
        limit = wall_queries.parse_limit(request.args.get("limit"))
    except wall_queries.LimitError as exc:
        message = t.gettext("The limit parameter must be a whole number from 1 to {maximum}, got {value}")
        return error(400, message.format(maximum=exc.maximum, value=repr(exc.raw)))
    try:
        views = wall_queries.alert_views(ctx.repo, limit, ctx.settings.locale.timezone, ctx.settings.media_dir,
                                    scope=session.scope_filter())
    except Exception as exc:  # noqa: BLE001 - any store failure is a 503 for the client, logged here
        log.warning("GET /api/alerts: repository failed: %s", exc)
        return error(503, t.gettext("Alerts are unavailable: the database does not answer"))
    for view in views:
        view["category_name"] = category_name(view["category"], t.lang)
    return jsonify(views)


@blueprint.get("/media/<path:path>")
def media(path: str) -> Response | tuple[Response, int]:
    if not scoped.media_allowed(session.current_user() or session.ANONYMOUS, path):
        return error(403, api_translator().gettext("This is outside your grid ({scope})").format(
            scope=(session.current_user() or session.ANONYMOUS).scope_grid or "-"))
    # send_from_directory joins safely: "..", absolute paths and folders are a 404, never a file outside.
    response = flask.send_from_directory(current().settings.media_dir.resolve(), path, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # People's photos: kept by this browser only (never a shared proxy), and only for the session's hour.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@blueprint.get("/api/wall/summary")
def wall_summary() -> Response | tuple[Response, int]:
    """The wall's figures and map version; ``?v=`` the version the page shows: 204 while it is current."""
    try:
        shown = wall_data.browser_summary(wall_data.current_data().summary(scope=session.scope_filter()))
    except Exception as exc:  # noqa: BLE001 - any store failure is a 503 for the wall, logged here
        log.warning("GET /api/wall/summary: %s", exc)
        return error(503, api_translator().gettext("Alerts are unavailable: the database does not answer"))
    if shown["version"] == request.args.get("v"):
        return Response(status=204)
    return jsonify(shown)


def _camera_refused(camera_id: str) -> tuple[Response, int] | None:
    allowed = scoped.cameras_allowed(session.current_user() or session.ANONYMOUS)
    if allowed is None or camera_id in allowed:
        return None
    return error(403, api_translator().gettext("This is outside your grid ({scope})").format(
        scope=(session.current_user() or session.ANONYMOUS).scope_grid or "-"))


@blueprint.get("/video/<camera_id>.jpg")
def video_frame(camera_id: str) -> Response | tuple[Response, int]:
    """The camera's newest frame as one JPEG: the wall's tiles poll this (one short request per frame, so 16
    tiles share the browser's 6 connections per host instead of each holding one as an MJPEG stream does)."""
    ctx = current()
    if (refused := _camera_refused(camera_id)) is not None:
        return refused
    try:
        frame = wall_queries.preview_jpeg(ctx.redis, camera_id)
        known = frame is not None or wall_queries.camera_known(ctx.redis, ctx.settings.cameras, camera_id)
    except redis.RedisError as exc:
        log.warning("GET /video/%s.jpg: redis unavailable: %s", camera_id, exc)
        return error(503, api_translator().gettext("Video is unavailable: Redis does not answer"))
    if not known:
        return error(404, api_translator().gettext("Unknown camera {camera}").format(camera=repr(camera_id)))
    body = frame or mjpeg.no_signal_jpeg(lang.wall_language(ctx.settings.locale.language))
    response = Response(body, content_type="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-State"] = "live" if frame is not None else "no-signal"
    return response


@blueprint.get("/video/<camera_id>.mjpg")
def video(camera_id: str) -> Response | tuple[Response, int]:
    ctx = current()
    if (refused := _camera_refused(camera_id)) is not None:
        return refused
    try:
        known = wall_queries.camera_known(ctx.redis, ctx.settings.cameras, camera_id)
    except redis.RedisError as exc:
        log.warning("GET /video/%s.mjpg: redis unavailable: %s", camera_id, exc)
        return error(503, api_translator().gettext("Video is unavailable: Redis does not answer"))
    if not known:
        return error(404, api_translator().gettext("Unknown camera {camera}").format(camera=repr(camera_id)))
    # waitress (with channel_request_lookahead) tells a generator its viewer left without waiting for a write.
    gone = request.environ.get("waitress.client_disconnected")
    # The wall's own choice (link or cookie), not the browser's Accept-Language: the card matches the page.
    viewer_lang = lang.wall_language(ctx.settings.locale.language)
    frames = mjpeg.stream(ctx.redis, camera_id, ctx.stopping, gone=gone if callable(gone) else None,
                          lang=viewer_lang)
    # Each stream holds a server thread: capped per user and in total, so the pages always have threads left.
    viewer = session.current_user() or session.ANONYMOUS
    body = mjpeg.held(flask.current_app, viewer.username if viewer is not session.ANONYMOUS
                      else f"{viewer.username}@{request.remote_addr}", frames)
    if body is None:
        message = api_translator().gettext("Too many live videos are open (at most {n} per user); close one and "
                                           "try again")
        too_many = error(429, message.format(n=ctx.settings.dashboard.max_streams_per_user))
        too_many[0].headers["Retry-After"] = "5"
        return too_many
    response = Response(body, mimetype=None,
                        content_type=mjpeg.CONTENT_TYPE, direct_passthrough=True)
    response.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must pass frames through, not pool them
    return response
