"""Who is asking: login at /login, a signed session cookie, and the one guard in front of every route.

The guard applies dashboard.guard's table to every request: a route or Dash callback without a rule is refused;
public ones (/login, /logout, /healthz, /metrics, static assets) pass; Open311 checks its own api_key; the routes
patrol cars call (telemetry, vehicle status, reports) take ``Authorization: Bearer <auth.device_token>`` or a
login, and are closed without a token unless ``auth.open_car_routes`` (dev only); everything else needs a
logged-in user with the rule's role: pages redirect to /login?next=..., everything else answers 401 / 403 JSON.
A state-changing request (POST, PUT, PATCH, DELETE, Dash callbacks included) from a browser must come from a page
of this host (Origin, else Referer); pages get a CSP (and HSTS with ``auth.secure_cookies``).

Views and callbacks ask :func:`current_user`, :func:`current_actor`, :func:`in_scope` and :func:`scope_filter`;
Flask views use ``@require(*roles)``, Dash callbacks :func:`require_in_callback`. An admin passes every role
check. The session holds the username, the time the password last changed and a session id, and the user is
re-read from the database (cached a few seconds), so a deactivated user or a changed password ends old sessions,
and logging out revokes the session id on the server (Redis) so a copied cookie stops working too.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

import flask
import redis
from flask import Blueprint, Flask, Response, jsonify, redirect, request, session
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized

from alerts.users import User, UserStore
from alerts.workflow import Actor, Role
from dashboard import guard, lang, map_tiles
from dashboard.context import of as context_of
from dashboard.throttle import LoginThrottle
from geo.scope import within
from gridwatch import keys
from gridwatch.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, translator
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

EXTENSION = "gridwatch_auth"
SESSION_COOKIE = "gw_session"
USER_CACHE_SECONDS = 5.0

JSON_PREFIXES = ("/api/", "/_dash-", "/media/", "/video/", "/open311/")
# Pages work under this policy: scripts only from this server (plus the hashes of the Dash page's own inline
# scripts, added per page), plotly needs eval; the push feed is a websocket on another port of this host.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:{tiles}; media-src 'self' blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", re.S)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The logged-in person as views see them."""

    username: str
    display_name: str
    role: Role
    scope_grid: str | None  # None: the whole territory
    department: str | None


# Who "is" logged in when settings.auth.required is false: no access control at all (closed demo networks).
ANONYMOUS = AuthUser("anonymous", "anonymous", Role.ADMIN, None, None)


class AuthRequiredError(Unauthorized):
    """No logged-in user (or the session expired)."""


class NotAllowedError(Forbidden):
    """The user's role may not do this, or the thing is outside the user's grid scope."""


class CallbackForbiddenError(NotAllowedError):
    """Raised in a Dash callback: the callback answers 403 and the page keeps what it shows."""


@dataclass
class AuthState:
    settings: Settings
    store: UserStore | None
    cache: dict[str, tuple[float, User | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def required(self) -> bool:
        return self.settings.auth.required

    def user(self, username: str) -> User | None:
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get(username)
        if hit is not None and now - hit[0] < USER_CACHE_SECONDS:
            return hit[1]
        user = self.store.get(username) if self.store is not None else None
        with self.lock:
            self.cache[username] = (now, user)
        return user

    def forget(self, username: str) -> None:
        with self.lock:
            self.cache.pop(username, None)



def _state(app: Flask | None = None) -> AuthState:
    target = app or flask.current_app
    state = target.extensions.get(EXTENSION)
    if state is None:
        raise RuntimeError("this Flask app has no GridWatch auth (dashboard.auth.init_auth was not called)")
    return cast(AuthState, state)


def _auth_user(u: User) -> AuthUser:
    return AuthUser(u.username, u.display_name, u.role, u.scope_grid, u.department)


# --- the helpers views and callbacks use --------------------------------------------------------------------------

def current_user() -> AuthUser | None:
    """The logged-in user of this request; ANONYMOUS (an admin) when auth is switched off and nobody logged in."""
    cached = flask.g.get("gw_user", False)
    if cached is not False:
        return cast(AuthUser | None, cached)
    state = _state()
    user = _session_user(state)
    result = _auth_user(user) if user is not None else (None if state.required else ANONYMOUS)
    flask.g.gw_user = result
    return result


def _redis_of(app: Flask) -> redis.Redis | None:
    try:
        return context_of(app).redis
    except RuntimeError:  # an app without the wall's context (tests of the login alone)
        return None


def _revoked(client: redis.Redis | None, sid: Any) -> bool:
    """Whether the session was ended by logging out. No session id (a cookie from before ids) counts as
    revoked; a Redis that does not answer does not end sessions (logged)."""
    if not isinstance(sid, str):
        return True
    if client is None:
        return False
    try:
        return bool(client.exists(keys.revoked_session(sid)))
    except redis.RedisError as exc:
        log.warning("session revocation not checked (Redis): %s", exc)
        return False


def _valid_user(state: AuthState, data: Any, client: redis.Redis | None) -> User | None:
    """The user a session's data names, if the login is still good (not expired, same password, active, not
    logged out)."""
    username = data.get("u")
    if not isinstance(username, str):
        return None
    started = data.get("at")
    limit = state.settings.auth.session_minutes * 60
    if not isinstance(started, int | float) or time.time() - started > limit:
        return None
    user = state.user(username)
    if user is None or not user.active or data.get("pw") != user.password_changed_at.timestamp():
        return None
    if _revoked(client, data.get("sid")):
        return None
    return user


def _session_user(state: AuthState) -> User | None:
    if "u" not in session:
        return None
    user = _valid_user(state, session, _redis_of(flask.current_app))
    if user is None:
        session.clear()
    return user


def user_from_cookie(app: Flask, cookie_header: str | None) -> AuthUser | None:
    """The logged-in user of a request that reached another port of this host with the browser's cookies (the
    push websocket's handshake): cookies are per host, not per port, so the wall's session comes along. None
    when there is no valid session; ANONYMOUS when auth is switched off. Safe from any thread."""
    state = _state(app)
    if not state.required:
        return ANONYMOUS
    from werkzeug.http import parse_cookie

    value = parse_cookie(cookie_header or "").get(SESSION_COOKIE)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    if not value or serializer is None:
        return None
    try:
        data = serializer.loads(value, max_age=state.settings.auth.session_minutes * 60)
    except Exception:  # noqa: BLE001 - a forged, stale or garbled cookie is simply no login
        return None
    user = _valid_user(state, data, _redis_of(app)) if isinstance(data, dict) else None
    return _auth_user(user) if user is not None else None


def _need_user() -> AuthUser:
    user = current_user()
    if user is None:
        raise AuthRequiredError("log in first")
    return user


def current_actor() -> Actor:
    """The workflow actor for the logged-in user: name, role and the grid they act for (None: the centre)."""
    user = _need_user()
    return Actor(user.username, user.role, user.scope_grid)


def allowed(user: AuthUser, roles: tuple[Role | str, ...]) -> bool:
    return guard.role_allowed(user.role, roles)


def in_scope(grid_code: str | None) -> bool:
    """Whether ``grid_code`` lies in the user's subtree (a user scoped to a grid never sees what has no grid)."""
    user = current_user()
    return user is not None and within(grid_code, user.scope_grid)


def scope_filter() -> str | None:
    """The grid code whose subtree every query of this request must be limited to; None = the whole territory.
    Grid codes are hierarchical (a child's code starts with its parent's), so it also works as a prefix."""
    return _need_user().scope_grid


def require(*roles: Role | str) -> Callable[[F], F]:
    """Flask view decorator: 401 JSON without a login, 403 JSON when the role is not one of ``roles``."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _json_error(401, _t().gettext("Log in first"))
            if not allowed(user, roles):
                return _json_error(403, _role_message(user, roles))
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
    return _t().gettext("Your role ({role}) may not do this; it needs: {roles}").format(role=user.role, roles=wanted)


def device_authorized() -> bool:
    """A patrol car's request: it brings auth.device_token as a bearer token (or auth.open_car_routes, dev only)."""
    return guard.device_ok(_state().settings.auth, request.headers.get("Authorization"))


# --- wiring -------------------------------------------------------------------------------------------------------

def _t() -> Translator:
    settings = _state().settings
    if request.path.startswith(JSON_PREFIXES):  # like the API's own errors: Accept-Language counts there
        return translator(lang.api_language(settings.locale.language))
    return lang.wall_translator(settings.locale.language)


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _wants_json(path: str) -> bool:
    if path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _safe_next(target: str | None) -> str:
    """Only a path on this server. Browsers drop tabs and newlines from URLs and read a backslash as a slash,
    so "/\\t/evil.example", "/\\evil" or "//evil" would all leave the site: any control character, backslash
    or a second leading slash falls back to "/"."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    if target.startswith(("/%2f", "/%2F", "/%5c", "/%5C")):
        return "/"
    return target


def _login_redirect() -> Response:
    return cast(Response, redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"), 302))


def _rule_of_request() -> guard.Rule | None:
    """The table's rule for this request's route (no such route: like an API route, 401 first, then 404)."""
    url_rule = request.url_rule
    return guard.ANY_USER if url_rule is None else guard.route_rule(url_rule.rule, request.method)


def _callback_rule() -> guard.Rule | None:
    """For a Dash callback: the rule of the page its output belongs to."""
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    return guard.callback_rule(output) if isinstance(output, str) else None


def _no_rule() -> Response:
    log.error("refused %s %s: the front door's table (dashboard/guard.py) has no rule for it",
              request.method, request.path)
    return _json_error(403, "no access rule for this route")


def _guard() -> Response | None:
    if request.method == "OPTIONS":
        return None
    rule = _rule_of_request()
    if rule is None:
        return _no_rule()
    car = rule.who == guard.Who.DEVICE and guard.bearer(request.headers.get("Authorization")) is not None
    if request.method in guard.STATE_CHANGING and not car and not guard.origin_ok(
            request.headers.get("Origin"), request.headers.get("Referer"), request.host):
        log.warning("refused %s %s from another site (Origin %r, Referer %r)", request.method, request.path,
                    request.headers.get("Origin"), request.headers.get("Referer"))
        return _json_error(403, "cross-site request refused")
    if rule.who in (guard.Who.PUBLIC, guard.Who.OPEN311):
        return None
    if rule.who == guard.Who.DEVICE and device_authorized():
        return None
    if car:  # a car's token, but the wrong one (or none is configured)
        return _json_error(401, "this route needs the vehicles' bearer token (auth.device_token)")
    user = current_user()
    if user is None or (rule.who == guard.Who.DEVICE and user is ANONYMOUS):
        if rule.who == guard.Who.DEVICE:
            return _json_error(401, "this route needs the vehicles' bearer token (auth.device_token) or a login")
        return _json_error(401, _t().gettext("Log in first")) if _wants_json(request.path) else _login_redirect()
    if request.url_rule is not None and request.url_rule.rule == "/_dash-update-component":
        rule = _callback_rule()
        if rule is None:
            return _no_rule()
    if not allowed(user, rule.roles):
        return _json_error(403, _role_message(user, rule.roles))
    return None


def _headers(response: Response) -> Response:
    """Security headers on every answer; the Dash page's CSP also lists its own inline scripts' hashes."""
    settings = _state().settings
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
        return _json_error(401, _t().gettext("Log in first"))
    return _json_error(exc.code or 403, exc.description or "forbidden")


def session_secret(settings: Settings) -> str:
    """auth.secret_key, else a random key made once and kept (owner-only) in data_dir/session.key."""
    if settings.auth.secret_key is not None:
        return settings.auth.secret_key.get_secret_value()
    path = Path(settings.data_dir) / "session.key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key, encoding="ascii")
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except OSError:
        pass
    return path.read_text(encoding="ascii").strip()  # another process may have won the race: use its key


def bootstrap_users(store: UserStore, settings: Settings, admin_password: str | None) -> None:
    """First start: an ``admin`` when there are no users (the generated password is logged this once). The demo
    users are not made here: only ``gridwatch run`` adds them while it runs the demo (centre.demo_setup)."""
    generated = store.ensure_admin(admin_password)
    if generated is not None:
        log.warning("first start: created user 'admin' with password %s -- it is shown only now; change it with "
                    "'gridwatch users passwd admin'", generated)
    elif admin_password and store.get("admin") is not None and store.count() == 1:
        log.info("first start: created user 'admin' with the password from GRIDWATCH_ADMIN_PASSWORD")


def init_auth(app: Flask, settings: Settings, store: UserStore | None) -> None:
    """Sessions, the login pages and the guard on ``app`` (before its first request)."""
    if store is None and settings.auth.required:
        raise RuntimeError("auth.required needs a database of users (a repository with an engine)")
    app.extensions[EXTENSION] = AuthState(settings, store)
    app.secret_key = session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
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
    REMOTE_ADDR (guard.client_address), so login throttling, logs and per-viewer stream caps count clients, not
    the proxy; the proxy's own address stays in ``environ["gridwatch.proxy"]``."""

    def __init__(self, app: Any, proxies: tuple[guard.Network, ...]) -> None:
        self.app, self.proxies = app, proxies

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR")
        client = guard.client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.proxies)
        if client != peer:
            environ["gridwatch.proxy"], environ["REMOTE_ADDR"] = peer, client
        return self.app(environ, start_response)


def _throttle() -> LoginThrottle | None:
    client = _redis_of(flask.current_app)
    return None if client is None else LoginThrottle(client)


# --- /login and /logout --------------------------------------------------------------------------------------------

login_blueprint = Blueprint("gridwatch_login", __name__)

_PAGE = """<!doctype html>
<html lang="{bcp47}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ background:#0b1220; color:#e8eef8; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
        display:flex; min-height:100vh; align-items:center; justify-content:center; margin:0; }}
 form {{ background:#142036; padding:2.5rem 3rem; border-radius:12px; width:min(30rem,90vw); }}
 h1 {{ font-size:2rem; margin:0 0 1.5rem; }}
 label {{ display:block; font-size:1.4rem; margin:1rem 0 .4rem; }}
 input {{ width:100%; box-sizing:border-box; font-size:1.5rem; padding:.6rem .8rem; border-radius:6px;
         border:1px solid #3a4d6e; background:#0b1220; color:#e8eef8; }}
 button {{ margin-top:1.8rem; width:100%; font-size:1.6rem; padding:.7rem; border:0; border-radius:6px;
          background:#2f7de1; color:#fff; cursor:pointer; }}
 .error {{ background:#5c1a1a; color:#ffd7d7; padding:.7rem 1rem; border-radius:6px; font-size:1.3rem; }}
 .info {{ background:#1a3d5c; padding:.7rem 1rem; border-radius:6px; font-size:1.3rem; }}
 .langs {{ margin-top:1.4rem; font-size:1.2rem; }} .langs a {{ color:#9cc3ff; margin-right:1rem; }}
</style></head>
<body><form method="post" action="/login" id="login-form">
<h1>{title}</h1>{message}
<label for="username">{username_label}</label>
<input id="username" name="username" autocomplete="username" autofocus required value="{username}">
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">{submit}</button>
<div class="langs">{langs}</div>
</form></body></html>"""


def _login_page(t: Translator, status: int, message: str = "", css: str = "error", username: str = "",
                next_url: str = "/") -> Response:
    settings = _state().settings
    notice = f'<p class="{css}" id="login-message">{html.escape(message)}</p>' if message else ""
    links = " ".join(
        f'<a href="/login?lang={code}&amp;next={quote(next_url)}">{html.escape(LANGUAGE_NAMES[code])}</a>'
        for code in LANGUAGES
    )
    body = _PAGE.format(
        bcp47=t.bcp47, title=html.escape(f"{settings.dashboard.title} · {t.gettext('Log in')}"), message=notice,
        username_label=html.escape(t.gettext("Username")), password_label=html.escape(t.gettext("Password")),
        username=html.escape(username), next=html.escape(next_url), submit=html.escape(t.gettext("Log in")),
        langs=links,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return lang.remember_choice(response)


@login_blueprint.get("/login")
def login_form() -> Response:
    t = _t()
    next_url = _safe_next(request.args.get("next"))
    if request.args.get("bye"):
        return _login_page(t, 200, t.gettext("You are logged out."), "info", next_url=next_url)
    return _login_page(t, 200, next_url=next_url)


@login_blueprint.post("/login")
def login_submit() -> Response:
    t = _t()
    state = _state()
    data = request.get_json(silent=True) if request.is_json else None
    form: Any = data if isinstance(data, dict) else request.form
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or request.args.get("next") or "/"))
    if state.store is None:
        return _login_page(t, 503, t.gettext("Login is not available: there is no user database"))
    throttle, address = _throttle(), request.remote_addr or "-"
    wait = throttle.wait(address, username) if throttle is not None else 0.0
    if wait > 0:
        message = t.gettext("Too many wrong passwords; try again in a minute")
        answer = _json_error(429, message) if request.is_json else _login_page(t, 429, message, username=username,
                                                                               next_url=next_url)
        answer.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
        return answer
    user = state.store.authenticate(username, password) if username and password else None
    if user is None:
        if throttle is not None:
            throttle.failed(address, username)
        log.info("failed login for %r from %s", username, request.remote_addr)
        message = t.gettext("Wrong username or password")
        return _json_error(401, message) if request.is_json else _login_page(t, 401, message, username=username,
                                                                             next_url=next_url)
    if throttle is not None:
        throttle.succeeded(address, username)
    state.forget(username)
    session.clear()
    session.permanent = True
    session["u"] = user.username
    session["pw"] = user.password_changed_at.timestamp()
    session["at"] = time.time()
    session["sid"] = secrets.token_urlsafe(18)
    log.info("user %s (%s) logged in from %s", user.username, user.role, request.remote_addr)
    if request.is_json:
        return jsonify({"username": user.username, "display_name": user.display_name, "role": str(user.role),
                        "scope_grid": user.scope_grid, "department": user.department})
    return cast(Response, redirect(next_url, 303))


@login_blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    username, sid = session.get("u"), session.get("sid")
    session.clear()
    client = _redis_of(flask.current_app)
    if isinstance(sid, str) and client is not None:
        try:  # kept as long as the cookie could still be presented
            client.set(keys.revoked_session(sid), "1", ex=_state().settings.auth.session_minutes * 60)
        except redis.RedisError as exc:
            log.warning("logout of %s: the session could not be revoked on the server (Redis): %s", username, exc)
    if username:
        log.info("user %s logged out", username)
    return cast(Response, redirect("/login?bye=1", 303))


@login_blueprint.get("/api/me")
def me() -> Response:
    user = current_user()
    if user is None:
        return _json_error(401, _t().gettext("Log in first"))
    return jsonify({"username": user.username, "display_name": user.display_name, "role": str(user.role),
                    "scope_grid": user.scope_grid, "department": user.department})
