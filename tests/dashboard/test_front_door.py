"""The one front door (dashboard/auth/) over the real app: every route, Dash callback and both websockets refuse
strangers, wrong roles and other grids; car routes closed by default; no open redirect; demo users only with the
demo; production refuses an open posture; CSRF, cookies, CSP and HSTS; throttled logins; revocable sessions."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from auth_testing import add_user, login
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.users import DEMO_USERS, UserStore
from alerts.workflow import Actor, Role
from centre.cases import run_alerts
from centre.dashboard import run_dashboard
from centre.demo_setup import demo_users, with_demo_device_token
from centre.worker import run_worker
from dashboard.app import create_app
from dashboard.auth import policy, session
from dashboard.server import DashboardServer
from dashboard.telemetry_ws import TelemetryWsServer
from geo.routing import GridRouter
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings

PASSWORD = "front-door-password"
COMMUNITY_A = "410105001001"
IN_A1 = (34.79625, 113.6675)
IN_B1 = (34.78125, 113.6675)
FIX = {"lat": 34.781, "lon": 113.671, "speed": 6.0, "time": datetime.now(UTC).isoformat()}


def _with_auth(settings: Settings, **auth_fields: Any) -> Settings:
    return settings.model_copy(update={"auth": settings.auth.model_copy(update=auth_fields)})


def _full_app(settings: Settings, repo: Repository, client: redis.Redis) -> Flask:
    """The dashboard with every route `gridwatch dashboard` serves (its services built from the repository)."""
    return create_app(settings, repo, client, "ws://127.0.0.1:1/ws").server


@pytest.fixture()
def app(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Flask:
    for name, role, scope in (
        ("op", Role.OPERATOR, None), ("sup", Role.SUPERVISOR, None), ("staff_a", Role.GRID_STAFF, COMMUNITY_A),
        ("sup_a", Role.SUPERVISOR, COMMUNITY_A), ("admin2", Role.ADMIN, None),
    ):
        add_user(repo, name, PASSWORD, role, scope)
    return _full_app(settings, repo, redis_client)


@pytest.fixture()
def as_user(app: Flask) -> Callable[[str], FlaskClient]:
    def make(username: str) -> FlaskClient:
        c = app.test_client()
        login(c, "", username, PASSWORD)
        return c

    return make


@pytest.fixture()
def case_in_b(repo: Repository, settings: Settings) -> str:
    service = CaseService(repo.engine, GridRouter(repo.list_grids()), settings.cases)
    return service.report("0503", IN_B1[0], IN_B1[1], Actor("13800000000", Role.OPERATOR), source="phone").case_id


def _fill(rule: str, case_id: str) -> str:
    values = {"case_id": case_id, "item_id": case_id, "action": "start", "query_id": "1", "fmt": "csv",
              "vehicle_id": "car-9", "camera_id": "car-1", "path": "snapshots/x.jpg", "filename": "x.css",
              "package_name": "dash", "fingerprinted_path": "x.js"}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


def _methods(app: Flask) -> Iterator[tuple[str, str]]:
    for r in app.url_map.iter_rules():
        for m in sorted((r.methods or set()) - {"HEAD", "OPTIONS"}):
            yield r.rule, m


def _role_without(roles: tuple[Role, ...]) -> str:
    """A logged-in user whose role is not among ``roles``."""
    return next(u for u, role in (("staff_a", Role.GRID_STAFF), ("op", Role.OPERATOR), ("sup", Role.SUPERVISOR))
                if role not in roles)


def test_every_route_has_a_rule_and_refuses_strangers_and_wrong_roles(
    app: Flask, as_user: Callable[[str], FlaskClient], case_in_b: str
) -> None:
    stranger = app.test_client()
    missing = [(rule, m) for rule, m in _methods(app) if policy.route_rule(rule, m) is None]
    assert missing == [], f"routes without a rule in dashboard/auth/policy.py: {missing}"
    checked = 0
    for rule, method in _methods(app):
        found = policy.route_rule(rule, method)
        assert found is not None
        url = _fill(rule, case_in_b)
        if found.who in (policy.Who.PUBLIC, policy.Who.OPEN311):
            continue
        r = stranger.open(url, method=method, json={})
        assert r.status_code in (401, 302), (method, url, r.status_code)
        if r.status_code == 302:  # a page: to the login, nothing else
            assert r.headers["Location"].startswith("/login?next="), (method, url)
        if found.roles:
            wrong = as_user(_role_without(found.roles))
            assert wrong.open(url, method=method, json={}).status_code == 403, (method, url)
        checked += 1
    assert checked > 40


def test_every_dash_callback_has_a_page_rule_and_refuses_strangers_and_wrong_roles(
    settings: Settings, repo: Repository, redis_client: redis.Redis, as_user: Callable[[str], FlaskClient],
) -> None:
    dash_app = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws")
    outputs = list(dash_app.callback_map)
    assert len(outputs) > 30
    unruled = [o for o in outputs if policy.callback_rule(o) is None]
    assert unruled == [], f"Dash callbacks of no page in dashboard/auth/policy.py PAGE_ROLES: {unruled}"
    stranger = dash_app.server.test_client()
    for output in outputs:
        body = {"output": output, "outputs": [], "inputs": [], "changedPropIds": []}
        assert stranger.post("/_dash-update-component", json=body).status_code == 401, output
        rule = policy.callback_rule(output)
        assert rule is not None
        if rule.roles:
            c = dash_app.server.test_client()
            login(c, "", _role_without(rule.roles), PASSWORD)
            assert c.post("/_dash-update-component", json=body).status_code == 403, output
    # The pages' own role lists and the table agree (one place decides).
    from dashboard.pages import admin, desk, replay, staff

    for page in (admin, desk, replay, staff):
        assert policy.PAGE_ROLES[page.PATH.strip("/")] == page.ROLES


def test_other_grids_cases_are_refused_on_every_case_route(
    as_user: Callable[[str], FlaskClient], case_in_b: str
) -> None:
    staff, sup = as_user("staff_a"), as_user("sup_a")
    for method, url in (("GET", f"/api/cases/{case_in_b}"), ("POST", f"/api/cases/{case_in_b}/start"),
                        ("POST", f"/api/cases/{case_in_b}/claim"), ("GET", f"/api/cases/{case_in_b}/claim"),
                        ("DELETE", f"/api/cases/{case_in_b}/claim")):
        assert staff.open(url, method=method, json={}).status_code == 403, url
    assert sup.get(f"/api/evidence/{case_in_b}.zip").status_code == 403


def test_grid_staff_may_not_read_or_change_the_camera_registry(
    as_user: Callable[[str], FlaskClient]
) -> None:
    staff, admin = as_user("staff_a"), as_user("admin2")
    assert staff.get("/api/cameras/config").status_code == 403
    assert staff.patch("/api/cameras/config/demo-car", json={"name": "mine"}).status_code == 403
    assert staff.post("/api/cameras/config", json={"id": "x", "name": "x", "url": "rtsp://h/x"}).status_code == 403
    assert staff.delete("/api/cameras/config/demo-car").status_code == 403
    assert admin.get("/api/cameras/config").status_code == 200


def test_car_routes_are_closed_without_a_device_token_unless_opened_for_development(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    closed = _full_app(settings, repo, redis_client).test_client()
    report = {"source": "web", "category": "0503", "note": "stall", "lat": IN_A1[0], "lon": IN_A1[1]}
    assert closed.post("/api/telemetry/car-9", json=FIX).status_code == 401
    assert closed.post("/api/reports", json=report).status_code == 401
    assert closed.post("/api/vehicles/car-9/status", json={"status": "on_patrol"}).status_code == 401
    assert closed.post("/api/telemetry/car-9", json=FIX, headers={"Authorization": "Bearer x"}).status_code == 401
    opened = _full_app(_with_auth(settings, open_car_routes=True), repo, redis_client).test_client()
    assert opened.post("/api/telemetry/car-9", json={**FIX, "time": datetime.now(UTC).isoformat()}).status_code == 200
    token = _full_app(_with_auth(settings, device_token=SecretStr("car-token")), repo, redis_client).test_client()
    fresh = {**FIX, "time": datetime.now(UTC).isoformat()}
    assert token.post("/api/telemetry/car-9", json=fresh, headers={"Authorization": "Bearer car-token"}).status_code \
        == 200


def test_the_demo_car_gets_a_token_of_its_own(settings: Settings) -> None:
    demo = settings.model_copy(update={"demo": settings.demo.model_copy(update={"enabled": True})})
    given = with_demo_device_token(demo)
    assert given.auth.device_token is not None and len(given.auth.device_token.get_secret_value()) >= 32
    assert with_demo_device_token(settings).auth.device_token is None  # no demo: nothing opened


def test_the_telemetry_websocket_needs_the_token_and_no_foreign_origin(redis_client: redis.Redis,
                                                                        settings: Settings) -> None:
    from fleet.telemetry import TelemetryIngest
    from ingest.gps import TelemetryStore

    ingest = TelemetryIngest(TelemetryStore(redis_client, 600), settings.ingest)
    for auth_settings, headers, expected in (
        (settings.auth, {}, 401),
        (_with_auth(settings, device_token=SecretStr("car-token")).auth, {"Authorization": "Bearer nope"}, 401),
        (_with_auth(settings, device_token=SecretStr("car-token")).auth,
         {"Authorization": "Bearer car-token", "Origin": "http://evil.example"}, 403),
    ):
        server = TelemetryWsServer(ingest, auth=auth_settings).start()
        try:
            with pytest.raises(InvalidStatus) as refused:
                connect(server.url_for("car-9"), additional_headers=headers, open_timeout=10).close()
            assert refused.value.response.status_code == expected
        finally:
            server.stop()
    server = TelemetryWsServer(ingest, auth=_with_auth(settings, device_token=SecretStr("car-token")).auth).start()
    try:
        with connect(server.url_for("car-9"), additional_headers={"Authorization": "Bearer car-token"},
                     open_timeout=10) as ws:
            ws.send(json.dumps({**FIX, "time": datetime.now(UTC).isoformat()}))
            assert json.loads(ws.recv(timeout=10))["ok"] is True
    finally:
        server.stop()


@pytest.mark.parametrize("target", [
    "/\t/evil.example", "//evil.example", "\\\\evil.example", "/\\evil.example", "https://evil.example/",
    "javascript:alert(1)", "/\n/evil.example", "/%2F/evil.example", " //evil.example", "/\x00/evil.example",
])
def test_login_never_redirects_off_site(app: Flask, target: str) -> None:
    r = app.test_client().post("/login", data={"username": "op", "password": PASSWORD, "next": target})
    assert r.status_code == 303
    assert r.headers["Location"] == "/", (target, r.headers["Location"])


def test_demo_users_exist_only_while_gridwatch_run_runs_the_demo(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    store = UserStore(repo.engine)
    demo = settings.model_copy(update={"demo": settings.demo.model_copy(update={"enabled": True})})
    create_app(demo, repo, redis_client, "ws://127.0.0.1:1/ws")  # what `gridwatch dashboard` builds
    assert all(store.get(u.username) is None for u in DEMO_USERS)
    with Lifecycle() as life:
        demo_users(demo, repo, life)
        assert all(store.get(u.username) is not None for u in DEMO_USERS)
    assert all(store.get(u.username) is None for u in DEMO_USERS)  # the demo stopped: gone
    store.seed_demo()  # left over from an older version
    store.set_password("operator", "a-real-password-1")  # a real user who happens to share a demo name stays
    with Lifecycle() as life:
        demo_users(settings, repo, life)  # demo off
    assert store.get("operator") is not None and store.get("grid") is None and store.get("supervisor") is None


def test_production_commands_refuse_an_open_posture_on_the_network(settings: Settings) -> None:
    import threading

    net = settings.model_copy(update={"dashboard": settings.dashboard.model_copy(update={"host": "0.0.0.0"})})
    for run in (run_dashboard, run_worker, run_alerts):
        with pytest.raises(SystemExit, match="Open311 takes requests without a key"):
            run(net, threading.Event())
    open_cars = _with_auth(net, open_car_routes=True, open311_api_key=SecretStr("k"))
    with pytest.raises(SystemExit, match="open_car_routes"):
        run_dashboard(open_cars, threading.Event())
    assert policy.exposure_problems(_with_auth(net, open311_api_key=SecretStr("k"))) == []
    assert policy.exposure_problems(_with_auth(net, allow_open_on_network=True, open_car_routes=True)) == []
    assert policy.exposure_problems(settings) == []  # loopback: the developer's machine


def test_state_changing_requests_from_another_site_are_refused(app: Flask, as_user: Callable[[str], FlaskClient],
                                                               case_in_b: str) -> None:
    op = as_user("op")
    evil = {"Origin": "http://evil.example"}
    assert op.post(f"/api/cases/{case_in_b}/claim", headers=evil).status_code == 403
    assert op.post(f"/api/cases/{case_in_b}/claim", headers={"Referer": "http://evil.example/x"}).status_code == 403
    assert op.post(f"/api/cases/{case_in_b}/claim", headers={"Origin": "null"}).status_code == 403
    assert op.post("/_dash-update-component", headers=evil,
                   json={"output": "desk-queue.children", "inputs": []}).status_code == 403
    assert app.test_client().post("/login", headers=evil,
                                  data={"username": "op", "password": PASSWORD}).status_code == 403
    same = op.post(f"/api/cases/{case_in_b}/claim", headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_cookies_and_security_headers(settings: Settings, repo: Repository, redis_client: redis.Redis) -> None:
    add_user(repo, "op", PASSWORD, Role.OPERATOR)
    plain = _full_app(settings, repo, redis_client).test_client()
    r = plain.post("/login", data={"username": "op", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = plain.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "'sha256-" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "Strict-Transport-Security" not in page.headers
    secure = _full_app(_with_auth(settings, secure_cookies=True), repo, redis_client).test_client()
    r = secure.post("/login", data={"username": "op", "password": PASSWORD}, base_url="https://localhost")
    assert "Secure" in r.headers["Set-Cookie"]
    assert secure.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")


def test_logout_ends_the_session_on_the_server(app: Flask) -> None:
    c = app.test_client()
    login(c, "", "op", PASSWORD)
    stolen = c.get_cookie(session.SESSION_COOKIE)
    assert stolen is not None
    assert c.get("/api/alerts").status_code == 200
    c.get("/logout")
    replay = app.test_client()
    replay.set_cookie(session.SESSION_COOKIE, stolen.value)
    assert replay.get("/api/alerts").status_code == 401


def test_wrong_passwords_slow_the_guesser_not_the_owner(app: Flask) -> None:
    from dashboard.auth import throttle

    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    for _ in range(throttle.FREE):
        assert attacker.post("/login", data={"username": "op", "password": "guess"}).status_code == 401
    assert attacker.post("/login", data={"username": "op", "password": "guess"}).status_code == 401
    held = attacker.post("/login", data={"username": "op", "password": PASSWORD})
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    # ... also for other names from that address,
    assert attacker.post("/login", data={"username": "sup", "password": PASSWORD}).status_code == 429
    # while the owner, from their own address, logs in at once.
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.1.1.1"
    assert owner.post("/login", data={"username": "op", "password": PASSWORD}).status_code == 303
    time.sleep(2.5)  # the first delay (1 s) has passed, with margin
    assert attacker.post("/login", data={"username": "sup", "password": PASSWORD}).status_code == 303


def test_the_push_websocket_refuses_a_foreign_origin(dashboard: DashboardServer, repo: Repository) -> None:
    from auth_testing import cookie_header

    add_user(repo, "op", PASSWORD, Role.OPERATOR)
    headers = cookie_header(dashboard.url, "op", PASSWORD)
    url = f"ws://127.0.0.1:{dashboard.push.port}/ws"
    with connect(url, additional_headers={**headers, "Origin": "http://evil.example"}, open_timeout=10) as ws:
        with pytest.raises(Exception) as closed:  # noqa: PT011 - websockets raises ConnectionClosed subclasses
            ws.recv(timeout=10)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 4403  # type: ignore[attr-defined]
    with connect(url, additional_headers={**headers, "Origin": f"http://127.0.0.1:{dashboard.port}"},
                 open_timeout=10) as ws:
        assert dashboard.push.client_count >= 0  # accepted: the wall's own page
