"""Who is asking: the signed session cookie, the user it names, and the helpers views and callbacks ask.

The session holds the username, the time the password last changed and a session id; the user is re-read from
the database (cached a few seconds), so a deactivated user or a changed password ends old sessions, and a
session id revoked on the server (Redis, at logout) stops a copied cookie too. Views and callbacks ask
:func:`current_user`, :func:`current_actor`, :func:`in_scope` and :func:`scope_filter`; the websockets on other
ports of this host ask :func:`user_from_cookie`.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import flask
import redis
from flask import Flask, session
from werkzeug.exceptions import Unauthorized
from werkzeug.http import parse_cookie

from alerts.users import User, UserStore
from alerts.workflow import Actor, Role
from dashboard.auth import policy
from dashboard.context import of as context_of
from geo.scope import within
from gridwatch import keys
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

EXTENSION = "gridwatch_auth"
SESSION_COOKIE = "gw_session"
USER_CACHE_SECONDS = 5.0


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


def state(app: Flask | None = None) -> AuthState:
    """The app's auth state (settings, the user store and its cache), as dashboard.auth.guard.init_auth set it."""
    target = app or flask.current_app
    found = target.extensions.get(EXTENSION)
    if found is None:
        raise RuntimeError("this Flask app has no GridWatch auth (dashboard.auth.guard.init_auth was not called)")
    return cast(AuthState, found)


def _auth_user(u: User) -> AuthUser:
    return AuthUser(u.username, u.display_name, u.role, u.scope_grid, u.department)


def redis_of(app: Flask) -> redis.Redis | None:
    """The app's Redis (revoked sessions, the login throttle); None for an app without the wall's context."""
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


def _valid_user(auth: AuthState, data: Any, client: redis.Redis | None) -> User | None:
    """The user a session's data names, if the login is still good (not expired, same password, active, not
    logged out)."""
    username = data.get("u")
    if not isinstance(username, str):
        return None
    started = data.get("at")
    limit = auth.settings.auth.session_minutes * 60
    if not isinstance(started, int | float) or time.time() - started > limit:
        return None
    user = auth.user(username)
    if user is None or not user.active or data.get("pw") != user.password_changed_at.timestamp():
        return None
    if _revoked(client, data.get("sid")):
        return None
    return user


def _session_user(auth: AuthState) -> User | None:
    if "u" not in session:
        return None
    user = _valid_user(auth, session, redis_of(flask.current_app))
    if user is None:
        session.clear()
    return user


# --- the helpers views and callbacks use --------------------------------------------------------------------------

def current_user() -> AuthUser | None:
    """The logged-in user of this request; ANONYMOUS (an admin) when auth is switched off and nobody logged in."""
    cached = flask.g.get("gw_user", False)
    if cached is not False:
        return cast(AuthUser | None, cached)
    auth = state()
    user = _session_user(auth)
    result = _auth_user(user) if user is not None else (None if auth.required else ANONYMOUS)
    flask.g.gw_user = result
    return result


def user_from_cookie(app: Flask, cookie_header: str | None) -> AuthUser | None:
    """The logged-in user of a request that reached another port of this host with the browser's cookies (the
    push websocket's handshake): cookies are per host, not per port, so the wall's session comes along. None
    when there is no valid session; ANONYMOUS when auth is switched off. Safe from any thread."""
    auth = state(app)
    if not auth.required:
        return ANONYMOUS
    value = parse_cookie(cookie_header or "").get(SESSION_COOKIE)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    if not value or serializer is None:
        return None
    try:
        data = serializer.loads(value, max_age=auth.settings.auth.session_minutes * 60)
    except Exception:  # noqa: BLE001 - a forged, stale or garbled cookie is simply no login
        return None
    user = _valid_user(auth, data, redis_of(app)) if isinstance(data, dict) else None
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
    return policy.role_allowed(user.role, roles)


def in_scope(grid_code: str | None) -> bool:
    """Whether ``grid_code`` lies in the user's subtree (a user scoped to a grid never sees what has no grid)."""
    user = current_user()
    return user is not None and within(grid_code, user.scope_grid)


def scope_filter() -> str | None:
    """The grid code whose subtree every query of this request must be limited to; None = the whole territory.
    Grid codes are hierarchical (a child's code starts with its parent's), so it also works as a prefix."""
    return _need_user().scope_grid


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
