"""Login and the guard: nothing but /login, health and metrics answers a stranger; roles and scopes on the server."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import redis
import requests
from auth_testing import add_user, login
from flask import Flask
from pydantic import SecretStr

from alerts.repository import Repository
from alerts.users import UserStore
from alerts.workflow import Role
from dashboard.app import create_app
from dashboard.auth import guard, session
from dashboard.server import DashboardServer
from gridwatch.settings import Settings


def _app(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Flask:
    return create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws").server


@pytest.fixture()
def app(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Flask:
    return _app(settings, repo, redis_client)


def test_a_stranger_is_sent_to_login_and_json_routes_say_401(app: Flask) -> None:
    c = app.test_client()
    page = c.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/")
    for path in ("/api/alerts", "/api/cameras", "/media/snapshots/x.jpg", "/video/car-1.mjpg", "/_dash-layout",
                 "/api/no-such-thing"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert r.get_json()["error"] == "请先登录"
    assert c.post("/_dash-update-component", json={}).status_code == 401
    assert c.get("/healthz").status_code == 200
    form = c.get("/login").get_data(as_text=True)
    assert 'name="password"' in form and "登录" in form and 'lang="zh-CN"' in form
    assert "Username" in c.get("/login?lang=en").get_data(as_text=True)


def test_login_opens_the_wall_where_the_user_was_going_and_logout_ends_it(app: Flask, repo: Repository) -> None:
    add_user(repo, "li.ming", "li-ming-password", Role.OPERATOR)
    c = app.test_client()
    wrong = c.post("/login", data={"username": "li.ming", "password": "nope", "next": "/"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    ok = c.post("/login", data={"username": "li.ming", "password": "li-ming-password", "next": "/api/alerts"})
    assert ok.status_code == 303 and ok.headers["Location"] == "/api/alerts"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "li-ming-password" not in cookie
    assert c.get("/api/alerts").status_code == 200
    assert c.get("/api/me").get_json() == {
        "username": "li.ming", "display_name": "li.ming", "role": "operator", "scope_grid": None, "department": None,
    }
    assert c.get("/logout").status_code == 303
    assert c.get("/api/alerts").status_code == 401


def test_a_login_never_sends_the_browser_to_another_site(app: Flask, repo: Repository) -> None:
    add_user(repo, "op", "op-password", Role.OPERATOR)
    c = app.test_client()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = c.post("/login", data={"username": "op", "password": "op-password", "next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/", target


def test_a_changed_password_ends_the_sessions_opened_with_the_old_one(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    add_user(repo, "op", "old-password", Role.OPERATOR)
    app = _app(settings, repo, redis_client)
    c = app.test_client()
    login(c, "", "op", "old-password")
    assert c.get("/api/alerts").status_code == 200
    UserStore(repo.engine).set_password("op", "new-password")
    app.extensions[session.EXTENSION].forget("op")  # the few-second user cache of this process
    assert c.get("/api/alerts").status_code == 401


def test_repeated_wrong_passwords_make_the_guesser_wait(app: Flask, repo: Repository) -> None:
    from dashboard.auth import throttle

    add_user(repo, "op", "op-password", Role.OPERATOR)
    c = app.test_client()
    for _ in range(throttle.FREE + 1):
        assert c.post("/login", data={"username": "op", "password": "guess"}).status_code == 401
    locked = c.post("/login", data={"username": "op", "password": "op-password"})
    assert locked.status_code == 429


def test_a_car_needs_the_device_token_once_one_is_set(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    token = settings.auth.model_copy(update={"device_token": SecretStr("car-token")})
    secured = settings.model_copy(update={"auth": token})
    c = create_app(secured, repo, redis_client, "ws://127.0.0.1:1/ws").server.test_client()
    fix = {"lat": 34.781, "lon": 113.671, "speed": 6.0, "time": datetime.now(UTC).isoformat()}
    assert c.post("/api/telemetry/car-9", json=fix).status_code == 401
    assert c.post("/api/telemetry/car-9", json=fix, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.post("/api/telemetry/car-9", json=fix, headers={"Authorization": "Bearer car-token"}).status_code == 200
    # The token opens only the cars' routes.
    assert c.get("/api/alerts", headers={"Authorization": "Bearer car-token"}).status_code == 401


def test_role_and_scope_helpers_answer_for_the_logged_in_user(app: Flask, repo: Repository) -> None:
    add_user(repo, "grid", "grid-password", Role.GRID_STAFF, scope_grid="410105001001")

    @guard.require(Role.OPERATOR, Role.SUPERVISOR)
    def centre_only() -> str:
        return "ok"

    with app.test_request_context("/"):
        from flask import session as cookie

        cookie["u"], cookie["at"], cookie["sid"] = "grid", __import__("time").time(), "a-session"
        user = UserStore(repo.engine).get("grid")
        assert user is not None
        cookie["pw"] = user.password_changed_at.timestamp()
        me = session.current_user()
        assert me is not None and me.role == Role.GRID_STAFF
        assert session.current_actor().grid_code == "410105001001"
        assert session.scope_filter() == "410105001001"
        assert session.in_scope("410105001001003") and not session.in_scope("410105001002001")
        assert not session.in_scope(None)
        denied = centre_only()
        assert not isinstance(denied, str) and denied.status_code == 403
        with pytest.raises(guard.CallbackForbiddenError):
            guard.require_in_callback(Role.SUPERVISOR)
        assert guard.require_in_callback(Role.GRID_STAFF).username == "grid"


def test_the_first_start_logs_a_generated_admin_password_once(
    settings: Settings, repo: Repository, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GRIDWATCH_ADMIN_PASSWORD", raising=False)
    with caplog.at_level(logging.WARNING, logger="dashboard.auth"):
        _app(settings, repo, redis_client)
    said = [r.getMessage() for r in caplog.records if "created user 'admin'" in r.getMessage()]
    assert len(said) == 1
    password = said[0].split("password ", 1)[1].split(" ", 1)[0]
    assert UserStore(repo.engine).authenticate("admin", password) is not None
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _app(settings, repo, redis_client)  # the next start
    assert not any(password in r.getMessage() for r in caplog.records)


def test_auth_switched_off_lets_everyone_in(settings: Settings, repo: Repository, redis_client: redis.Redis) -> None:
    open_settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"required": False})})
    c = _app(open_settings, repo, redis_client).test_client()
    assert c.get("/api/alerts").status_code == 200
    assert c.get("/").status_code == 200


def test_a_browser_session_over_http_works_with_requests(dashboard: DashboardServer, repo: Repository) -> None:
    add_user(repo, "sup", "sup-password", Role.SUPERVISOR)
    with requests.Session() as s:
        assert s.get(dashboard.url + "api/alerts", timeout=10).status_code == 401
        login(s, dashboard.url, "sup", "sup-password")
        assert s.get(dashboard.url + "api/alerts", timeout=10).status_code == 200
        page = s.get(dashboard.url, timeout=10)
        assert page.status_code == 200 and "_dash-config" in page.text


def test_the_session_cookie_identifies_the_user_on_another_port(
    app: Flask, repo: Repository
) -> None:
    """What the push websocket's handshake can check: the wall's cookie comes along to the other port."""
    add_user(repo, "op", "op-password", Role.OPERATOR)
    c = app.test_client()
    login(c, "", "op", "op-password")
    cookie = c.get_cookie(session.SESSION_COOKIE)
    assert cookie is not None
    header = f"gw_lang=en; {session.SESSION_COOKIE}={cookie.value}"
    user = session.user_from_cookie(app, header)
    assert user is not None and user.username == "op"
    assert session.user_from_cookie(app, None) is None
    assert session.user_from_cookie(app, f"{session.SESSION_COOKIE}={cookie.value[:-3]}xyz") is None
    UserStore(repo.engine).update("op", active=False)
    app.extensions[session.EXTENSION].forget("op")
    assert session.user_from_cookie(app, header) is None


def test_a_401_speaks_the_clients_language(app: Flask) -> None:
    c = app.test_client()
    assert c.get("/api/alerts").get_json()["error"] == "请先登录"
    english = c.get("/api/alerts", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.get_json()["error"] == "Log in first" and english.headers["Content-Language"] == "en"


def test_a_session_older_than_session_minutes_is_over(app: Flask, repo: Repository) -> None:
    add_user(repo, "op", "op-password", Role.OPERATOR)
    c = app.test_client()
    login(c, "", "op", "op-password")
    assert c.get("/api/alerts").status_code == 200
    minutes = app.extensions[session.EXTENSION].settings.auth.session_minutes
    with c.session_transaction() as s:  # the login happened a minute longer ago than a session lasts
        s["at"] = s["at"] - (minutes + 1) * 60
    assert c.get("/api/alerts").status_code == 401
    assert c.get("/").headers["Location"].startswith("/login")
