"""The login routes: the form at /login (GET, POST; JSON too), /logout, who is logged in (/api/me), and the first
start's admin user.

A successful login clears the old session and writes the username, the password's change time, the login time
and a fresh session id (dashboard.auth.session reads them back); logging out revokes that id on the server
(Redis) so a copied cookie stops working too. Wrong passwords are slowed down per address and per name
(dashboard.auth.throttle).
"""
from __future__ import annotations

import html
import logging
import secrets
import time
from typing import Any, cast
from urllib.parse import quote

import flask
import redis
from flask import Blueprint, Response, jsonify, redirect, request

from alerts.users import UserStore
from dashboard import lang
from dashboard.auth import session
from dashboard.auth.answers import json_error, translator_of_request
from dashboard.auth.throttle import LoginThrottle
from gridwatch import keys
from gridwatch.i18n import LANGUAGE_NAMES, LANGUAGES, Translator
from gridwatch.settings import Settings

log = logging.getLogger(__name__)


def bootstrap_users(store: UserStore, settings: Settings, admin_password: str | None) -> None:
    """First start: an ``admin`` when there are no users (the generated password is logged this once). The demo
    users are not made here: only ``gridwatch run`` adds them while it runs the demo (centre.demo_setup)."""
    generated = store.ensure_admin(admin_password)
    if generated is not None:
        log.warning("first start: created user 'admin' with password %s -- it is shown only now; change it with "
                    "'gridwatch users passwd admin'", generated)
    elif admin_password and store.get("admin") is not None and store.count() == 1:
        log.info("first start: created user 'admin' with the password from GRIDWATCH_ADMIN_PASSWORD")


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


def _throttle() -> LoginThrottle | None:
    client = session.redis_of(flask.current_app)
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
    settings = session.state().settings
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
    t = translator_of_request()
    next_url = _safe_next(request.args.get("next"))
    if request.args.get("bye"):
        return _login_page(t, 200, t.gettext("You are logged out."), "info", next_url=next_url)
    return _login_page(t, 200, next_url=next_url)


@login_blueprint.post("/login")
def login_submit() -> Response:
    t = translator_of_request()
    state = session.state()
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
        answer = json_error(429, message) if request.is_json else _login_page(t, 429, message, username=username,
                                                                               next_url=next_url)
        answer.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
        return answer
    user = state.store.authenticate(username, password) if username and password else None
    if user is None:
        if throttle is not None:
            throttle.failed(address, username)
        log.info("failed login for %r from %s", username, request.remote_addr)
        message = t.gettext("Wrong username or password")
        return json_error(401, message) if request.is_json else _login_page(t, 401, message, username=username,
                                                                             next_url=next_url)
    if throttle is not None:
        throttle.succeeded(address, username)
    state.forget(username)
    flask.session.clear()
    flask.session.permanent = True
    flask.session["u"] = user.username
    flask.session["pw"] = user.password_changed_at.timestamp()
    flask.session["at"] = time.time()
    flask.session["sid"] = secrets.token_urlsafe(18)
    log.info("user %s (%s) logged in from %s", user.username, user.role, request.remote_addr)
    if request.is_json:
        return jsonify({"username": user.username, "display_name": user.display_name, "role": str(user.role),
                        "scope_grid": user.scope_grid, "department": user.department})
    return cast(Response, redirect(next_url, 303))


@login_blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    username, sid = flask.session.get("u"), flask.session.get("sid")
    flask.session.clear()
    client = session.redis_of(flask.current_app)
    if isinstance(sid, str) and client is not None:
        try:  # kept as long as the cookie could still be presented
            client.set(keys.revoked_session(sid), "1", ex=session.state().settings.auth.session_minutes * 60)
        except redis.RedisError as exc:
            log.warning("logout of %s: the session could not be revoked on the server (Redis): %s", username, exc)
    if username:
        log.info("user %s logged out", username)
    return cast(Response, redirect("/login?bye=1", 303))


@login_blueprint.get("/api/me")
def me() -> Response:
    user = session.current_user()
    if user is None:
        return json_error(401, translator_of_request().gettext("Log in first"))
    return jsonify({"username": user.username, "display_name": user.display_name, "role": str(user.role),
                    "scope_grid": user.scope_grid, "department": user.department})
