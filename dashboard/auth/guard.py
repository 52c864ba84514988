"""The one guard in front of every route: it applies dashboard.auth.policy's table to every request.

A route or Dash callback without a rule is refused; public ones (/login, /logout, /healthz, /metrics, static
assets) pass; Open311 checks its own api_key; the routes patrol cars call (telemetry, vehicle status, reports)
take ``Authorization: Bearer <auth.device_token>`` or a login, and are closed without a token unless
``auth.open_car_routes`` (dev only); everything else needs a logged-in user with the rule's role: pages redirect
to /login?next=..., everything else answers 401 / 403 JSON. A state-changing request (POST, PUT, PATCH, DELETE,
Dash callbacks included) from a browser must come from a page of this host (Origin, else Referer); pages get a
CSP (and HSTS with ``auth.secure_cookies``).

Flask views use ``@require(*roles)``, Dash callbacks :func:`require_in_callback`; an admin passes every role
check. :func:`init_auth` puts sessions, the login routes and this guard on an app.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import quote

from flask import Flask, Response, redirect, request
from werkzeug.exceptions import Forbidden, HTTPException

from alerts.users import UserStore
from alerts.workflow import Role
from dashboard import map_tiles
from dashboard.auth import policy, session
from dashboard.auth.answers import json_error, translator_of_request, wants_json
from dashboard.auth.login import login_blueprint
from dashboard.auth.session import ANONYMOUS, AuthRequiredError, AuthState, AuthUser, allowed, current_user
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

# Pages work under this policy: scripts only from this server (plus the hashes of the Dash page's own inline
# scripts, added per page), plotly needs eval; the push feed is a websocket on another port of this host.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:{tiles}; media-src 'self' blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", re.S)

F = TypeVar("F", bound=Callable[..., Any])


class NotAllowedError(Forbidden):
    """The user's role may not do this, or the thing is outside the user's grid scope."""


class CallbackForbiddenError(NotAllowedError):
    """Raised in a Dash callback: the callback answers 403 and the page keeps what it shows."""


def require(*roles: Role | str) -> Callable[[F], F]:
    """Flask view decorator: 401 JSON without a login, 403 JSON when the role is not one of ``roles``."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return json_error(401, translator_of_request().gettext("Log in first"))
            if not allowed(user, roles):
                return json_error(403, _role_message(user, roles))
            return view(*args, **kwargs)

        return cast(F, inner)

    return wrap


def require_in_callback(*roles: Role | str) -> AuthUser:
    """In a Dash callback: the user, or a 403 that leaves the page as it is."""
    user = current_user()
    if user is None:
        raise AuthRequiredError("log in first")
    if not allowed(user, roles):
        raise CallbackForbiddenError(_role_message(user, roles))
    return user


def forbidden(message: str) -> NotAllowedError:
    """An exception to raise in views for out-of-scope things (answered as 403 JSON)."""
    return NotAllowedError(message)


def _role_message(user: AuthUser, roles: tuple[Role | str, ...]) -> str:
    wanted = ", ".join(sorted(str(Role(r)) for r in roles))
    t = translator_of_request()
    return t.gettext("Your role ({role}) may not do this; it needs: {roles}").format(role=user.role, roles=wanted)


def device_authorized() -> bool:
    """A patrol car's request: it brings auth.device_token as a bearer token (or auth.open_car_routes, dev only)."""
    return policy.device_ok(session.state().settings.auth, request.headers.get("Authorization"))


# --- wiring -----------------------------------------------------------------------------------------------------------

def _login_redirect() -> Response:
    return cast(Response, redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"), 302))


def _rule_of_request() -> policy.Rule | None:
    """The table's rule for this request's route (no such route: like an API route, 401 first, then 404)."""
    url_rule = request.url_rule
    return policy.ANY_USER if url_rule is None else policy.route_rule(url_rule.rule, request.method)


def _callback_rule() -> policy.Rule | None:
    """For a Dash callback: the rule of the page its output belongs to."""
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    return policy.callback_rule(output) if isinstance(output, str) else None


def _no_rule() -> Response:
    log.error("refused %s %s: the front door's table (dashboard/auth/policy.py) has no rule for it",
              request.method, request.path)
    return json_error(403, "no access rule for this route")


def _guard() -> Response | None:
    if request.method == "OPTIONS":
        return None
    rule = _rule_of_request()
    if rule is None:
        return _no_rule()
    car = rule.who == policy.Who.DEVICE and policy.bearer(request.headers.get("Authorization")) is not None
    if request.method in policy.STATE_CHANGING and not car and not policy.origin_ok(
            request.headers.get("Origin"), request.headers.get("Referer"), request.host):
        log.warning("refused %s %s from another site (Origin %r, Referer %r)", request.method, request.path,
                    request.headers.get("Origin"), request.headers.get("Referer"))
        return json_error(403, "cross-site request refused")
    if rule.who in (policy.Who.PUBLIC, policy.Who.OPEN311):
        return None
    if rule.who == policy.Who.DEVICE and device_authorized():
        return None
    if car:  # a car's token, but the wrong one (or none is configured)
        return json_error(401, "this route needs the vehicles' bearer token (auth.device_token)")
    user = current_user()
    if user is None or (rule.who == policy.Who.DEVICE and user is ANONYMOUS):
        if rule.who == policy.Who.DEVICE:
            return json_error(401, "this route needs the vehicles' bearer token (auth.device_token) or a login")
        if not wants_json(request.path):
            return _login_redirect()
        return json_error(401, translator_of_request().gettext("Log in first"))
    if request.url_rule is not None and request.url_rule.rule == "/_dash-update-component":
        rule = _callback_rule()
        if rule is None:
            return _no_rule()
    if not allowed(user, rule.roles):
        return json_error(403, _role_message(user, rule.roles))
    return None


def _headers(response: Response) -> Response:
    """Security headers on every answer; the Dash page's CSP also lists its own inline scripts' hashes."""
    settings = session.state().settings
    hashes = ""
    if request.url_rule is not None and request.url_rule.rule in ("/", "/<path:path>") and \
            response.mimetype == "text/html" and not response.direct_passthrough:
        found = _INLINE_SCRIPT.findall(response.get_data())
        hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in found)
    # The wall's base-map tiles come from the tile server settings.map names (dashboard/map_tiles.py).
    response.headers.setdefault("Content-Security-Policy",
                                CSP.format(hashes=hashes, tiles=map_tiles.image_sources(settings.map)))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if settings.auth.secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, AuthRequiredError):
        return json_error(401, translator_of_request().gettext("Log in first"))
    return json_error(exc.code or 403, exc.description or "forbidden")


def init_auth(app: Flask, settings: Settings, store: UserStore | None) -> None:
    """Sessions, the login pages and the guard on ``app`` (before its first request)."""
    if store is None and settings.auth.required:
        raise RuntimeError("auth.required needs a database of users (a repository with an engine)")
    app.extensions[session.EXTENSION] = AuthState(settings, store)
    app.secret_key = session.session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME=session.SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # a cross-site form cannot ride on an operator's session
        SESSION_COOKIE_SECURE=settings.auth.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.auth.session_minutes),
        SESSION_REFRESH_EACH_REQUEST=False,  # a login lasts session_minutes from the login, not from the last click
    )
    if settings.auth.trusted_proxies:  # before the guard and the throttle read the client's address
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.auth.trusted_proxies)  # type: ignore[method-assign]
    app.before_request(_guard)
    app.after_request(_headers)
    app.register_error_handler(AuthRequiredError, _http_error)
    app.register_error_handler(NotAllowedError, _http_error)
    app.register_blueprint(login_blueprint)


class TrustedProxies:
    """WSGI middleware for auth.trusted_proxies: a request relayed by one of them gets the client's address as
    REMOTE_ADDR (policy.client_address), so login throttling, logs and per-viewer stream caps count clients, not
    the proxy; the proxy's own address stays in ``environ["gridwatch.proxy"]``."""

    def __init__(self, app: Any, proxies: tuple[policy.Network, ...]) -> None:
        self.app, self.proxies = app, proxies

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR")
        client = policy.client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.proxies)
        if client != peer:
            environ["gridwatch.proxy"], environ["REMOTE_ADDR"] = peer, client
        return self.app(environ, start_response)
