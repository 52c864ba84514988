"""The front door's object checks (issue 14) over the real app: the desk's and the staff page's Dash callbacks,
sent over HTTP as the page's renderer sends them, refuse a case of another grid, a case the user's grid no longer
holds and another department's case; /media, /video, /api/cameras, /api/vehicles and /api/coverage show a
grid-scoped user only their subtree (and /media is never cached by a shared proxy); a disabled user's session
ends; behind a trusted reverse proxy, login throttling counts the client's address from X-Forwarded-For."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dash
import pytest
import redis
from auth_testing import add_user, login
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr
from werkzeug.test import TestResponse

from alerts.cases import CaseService
from alerts.casework import Casework, Target
from alerts.repository import Repository
from alerts.users import UserStore
from alerts.workflow import Actor, Role, Status
from dashboard import desk_queries, ids
from dashboard.app import create_app
from dashboard.auth import session
from geo.routing import GridRouter
from gridwatch.settings import Settings

PASSWORD = "front-door-password"
TOKEN = "car-token-scope"
COMMUNITY_A = "410105001001"  # the scoped users' community
GRID_A1 = "410105001001001"
GRID_B1 = "410105001002001"  # the neighbouring community's grid
IN_A1 = (34.79625, 113.6675)
IN_B1 = (34.78125, 113.6675)
EN = {"lang": "en"}


def _scoped_settings(settings: Settings, **auth_fields: Any) -> Settings:
    """A car token, and one fixed camera in each community."""
    cameras = [
        {"id": "cam-a", "name": "street A", "url": "rtsp://127.0.0.1:1/a", "lat": IN_A1[0], "lon": IN_A1[1]},
        {"id": "cam-b", "name": "street B", "url": "rtsp://127.0.0.1:1/b", "lat": IN_B1[0], "lon": IN_B1[1]},
    ]
    data = settings.model_dump(mode="python")
    data["cameras"] = cameras
    data["auth"] = {**settings.auth.model_dump(mode="python"), "device_token": SecretStr(TOKEN), **auth_fields}
    return Settings.model_validate(data)


def _dash_app(settings: Settings, repo: Repository, client: redis.Redis) -> dash.Dash:
    """The dashboard with every route `gridwatch dashboard` serves (the Dash app: its callback map too)."""
    return create_app(settings, repo, client, "ws://127.0.0.1:1/ws")


@pytest.fixture()
def scoped(settings: Settings) -> Settings:
    return _scoped_settings(settings)


@pytest.fixture()
def dash_app(scoped: Settings, repo: Repository, redis_client: redis.Redis) -> dash.Dash:
    for name, role, scope, department in (
        ("op", Role.OPERATOR, None, None), ("sup_a", Role.SUPERVISOR, COMMUNITY_A, None),
        ("staff_a", Role.GRID_STAFF, COMMUNITY_A, None), ("staff_a1", Role.GRID_STAFF, GRID_A1, None),
        ("dep_um", Role.DEPARTMENT, None, "urban_management"),
    ):
        add_user(repo, name, PASSWORD, role, scope, department)
    return _dash_app(scoped, repo, redis_client)


@pytest.fixture()
def as_user(dash_app: dash.Dash) -> Callable[[str], FlaskClient]:
    def make(username: str) -> FlaskClient:
        c: FlaskClient = dash_app.server.test_client()
        login(c, "", username, PASSWORD)
        return c

    return make


@pytest.fixture()
def casework(repo: Repository, scoped: Settings) -> Casework:
    return Casework(repo.engine, GridRouter(repo.list_grids()), settings=scoped.cases)


@pytest.fixture()
def report(repo: Repository, scoped: Settings) -> Callable[[tuple[float, float]], str]:
    """A person's report at a place: a new case (status reported), its id."""
    service = CaseService(repo.engine, GridRouter(repo.list_grids()), scoped.cases)
    return lambda at: service.report("0503", at[0], at[1], Actor("13800000000", Role.OPERATOR),
                                     source="phone").case_id


CENTRE = Actor("op", Role.OPERATOR)


def _dispatched(casework: Casework, case_id: str, target: Target) -> None:
    casework.verify(case_id, CENTRE)
    casework.register(case_id, CENTRE)
    casework.dispatch(case_id, CENTRE, target)


# --- Dash callbacks as the page's renderer sends them -------------------------------------------------------------

def _prop(component: str | dict[str, str], prop: str, value: Any) -> dict[str, Any]:
    return {"id": component, "property": prop, "value": value}


def _prop_id(p: dict[str, Any]) -> str:
    component = p["id"]
    text = json.dumps(component, sort_keys=True, separators=(",", ":")) if isinstance(component, dict) else component
    return f"{text}.{p['property']}"


def _callback(app: dash.Dash, client: FlaskClient, outputs: list[tuple[str, str]], values: dict[str, Any],
              changed: str) -> TestResponse:
    """POST /_dash-update-component for the registered callback with exactly these outputs (its key in the
    callback map, with Dash's "@hash" of duplicate outputs), every input and state the callback declares filled
    from ``values`` ("component.property"; a pattern input by its type: the list of matched items), else None;
    ``changed``: the input the user touched."""
    def parts(key: str) -> list[str]:
        return [p.split("@", 1)[0] for p in key.strip(".").split("...")]

    def component(spec: dict[str, Any]) -> Any:
        ident = spec["id"]
        return json.loads(ident) if isinstance(ident, str) and ident.startswith("{") else ident

    def fill(spec: dict[str, Any]) -> Any:
        ident, prop = component(spec), spec["property"]
        if isinstance(ident, dict):  # a pattern (ALL): the matched components, as the renderer lists them
            return values.get(f"{ident['type']}.{prop}", [])
        return _prop(ident, prop, values.get(f"{ident}.{prop}"))

    wanted = [f"{c}.{p}" for c, p in outputs]
    keys = [k for k in app.callback_map if parts(k) == wanted]
    inputs: list[Any] = []
    for key in keys:  # several callbacks may share duplicate outputs: the one the touched input triggers
        inputs = [fill(i) for i in app.callback_map[key]["inputs"]]
        if any(_prop_id(p) == changed for item in inputs for p in (item if isinstance(item, list) else [item])):
            break
    else:
        raise AssertionError(f"no callback of {wanted} has the input {changed}")
    state = [fill(s) for s in app.callback_map[key]["state"]]
    out = [{"id": c, "property": p} for c, p in outputs]
    body = {"output": key, "outputs": out if len(out) > 1 else out[0], "inputs": inputs, "state": state,
            "changedPropIds": [changed]}
    return client.post("/_dash-update-component", json=body)


def _desk_pick(app: dash.Dash, client: FlaskClient, case_id: str) -> TestResponse:
    click = _prop({"type": ids.DESK_PICK, "case": case_id}, "n_clicks", 1)
    return _callback(app, client, [(ids.DESK_SELECTED, "data"), (ids.DESK_MESSAGE, "children")],
                     {f"{ids.DESK_PICK}.n_clicks": [click], f"{ids.DESK_LOCALE}.data": EN}, _prop_id(click))


def _desk_detail(app: dash.Dash, client: FlaskClient, case_id: str) -> TestResponse:
    return _callback(app, client, [(ids.DESK_DETAIL, "children")],
                     {f"{ids.DESK_SELECTED}.data": case_id, f"{ids.DESK_LOCALE}.data": EN}, f"{ids.DESK_SELECTED}.data")


def _desk_act(app: dash.Dash, client: FlaskClient, button: str, case_id: str, grid: str | None = None,
              merge_target: str | None = None) -> TestResponse:
    values = {f"{button}.n_clicks": 1, f"{ids.DESK_SELECTED}.data": case_id, f"{ids.DESK_GRID}.value": grid,
              f"{ids.DESK_NOTE}.value": "mine now", f"{ids.DESK_MERGE_TARGET}.value": merge_target,
              f"{ids.DESK_DONE}.data": 0, f"{ids.DESK_LOCALE}.data": EN}
    return _callback(app, client, [(ids.DESK_MESSAGE, "children"), (ids.DESK_SELECTED, "data"),
                                   (ids.DESK_DONE, "data")], values, f"{button}.n_clicks")


def _staff_case(app: dash.Dash, client: FlaskClient, case_id: str) -> TestResponse:
    return _callback(app, client, [(ids.STAFF_CASE, "children")],
                     {f"{ids.STAFF_SELECTED}.data": case_id, f"{ids.STAFF_DONE}.data": 0,
                      f"{ids.STAFF_LOCALE}.data": EN}, f"{ids.STAFF_SELECTED}.data")


def _staff_act(app: dash.Dash, client: FlaskClient, button: str, case_id: str) -> TestResponse:
    values = {f"{button}.n_clicks": 1, f"{ids.STAFF_SELECTED}.data": case_id, f"{ids.STAFF_NOTE}.value": "on it",
              f"{ids.STAFF_DONE}.data": 0, f"{ids.STAFF_LOCALE}.data": EN}
    return _callback(app, client, [(ids.STAFF_MESSAGE, "children"), (ids.STAFF_DONE, "data")], values,
                     f"{button}.n_clicks")


def _status(casework: Casework, case_id: str) -> str:
    return casework.book.get(case_id).status


def test_the_desk_refuses_a_case_of_another_grid(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient], report: Callable[[tuple[float, float]], str],
    casework: Casework, redis_client: redis.Redis,
) -> None:
    """A supervisor of community A who sends the desk's callbacks for a case in community B (its id seen in a
    link, a log, a guess) cannot claim it, see its photo and position, assign, reject or merge it."""
    sup_a, op = as_user("sup_a"), as_user("op")
    mine, theirs = report(IN_A1), report(IN_B1)
    assert _desk_pick(dash_app, sup_a, mine).status_code == 200  # their own grid's case: answered
    assert _desk_pick(dash_app, sup_a, theirs).status_code == 403
    assert theirs not in desk_queries.holders(redis_client, [theirs])  # no claim taken on it
    assert _desk_detail(dash_app, sup_a, theirs).status_code == 403
    for button in (ids.DESK_ASSIGN, ids.DESK_REJECT):
        assert _desk_act(dash_app, sup_a, button, theirs, grid=GRID_A1).status_code == 403, button
    # merging their own case into the other grid's (or the other grid's into theirs) is refused as well
    assert _desk_act(dash_app, sup_a, ids.DESK_MERGE, mine, merge_target=theirs).status_code == 403
    assert _desk_act(dash_app, sup_a, ids.DESK_MERGE, theirs, merge_target=mine).status_code == 403
    assert _status(casework, theirs) == Status.REPORTED and _status(casework, mine) == Status.REPORTED
    # the centre's operator (the whole territory) sees and acts on it
    detail = _desk_detail(dash_app, op, theirs)
    assert detail.status_code == 200 and "Suggested grid" in detail.get_data(as_text=True)


def test_the_staff_page_refuses_another_departments_case(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient], report: Callable[[tuple[float, float]], str],
    casework: Casework,
) -> None:
    """A department user (no grid scope) opens and accepts only what was dispatched to their department."""
    dep = as_user("dep_um")
    theirs, ours = report(IN_B1), report(IN_A1)
    _dispatched(casework, theirs, Target(department="civil_affairs"))
    _dispatched(casework, ours, Target(department="urban_management"))
    shown = _staff_case(dash_app, dep, theirs).get_data(as_text=True)
    assert "This case is outside your grid" in shown and theirs not in shown
    refused = _staff_act(dash_app, dep, ids.STAFF_ACCEPT, theirs).get_data(as_text=True)
    assert "This case is outside your grid" in refused
    assert _status(casework, theirs) == Status.DISPATCHED
    assert ours in _staff_case(dash_app, dep, ours).get_data(as_text=True)  # their own department's: shown
    accepted = _staff_act(dash_app, dep, ids.STAFF_ACCEPT, ours).get_data(as_text=True)
    assert "Accepted" in accepted and _status(casework, ours) == Status.IN_PROGRESS


def test_the_staff_page_lets_only_the_holding_grid_act(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient], report: Callable[[tuple[float, float]], str],
    casework: Casework,
) -> None:
    """Escalated to community A, grid A1's case is the community's to take on: grid A1's staff still see it, but
    cannot accept or handle it in the community's place (the JSON API's holder check, on the page too); a grid of
    another community sees nothing of it."""
    case_id = report(IN_A1)
    _dispatched(casework, case_id, Target(grid=GRID_A1))
    a1 = Actor("staff_a1", Role.GRID_STAFF, GRID_A1)
    casework.start(case_id, a1)
    casework.escalate(case_id, a1, "needs the community's truck")
    assert casework.book.get(case_id).assignee_grid == COMMUNITY_A
    staff_a1, staff_a = as_user("staff_a1"), as_user("staff_a")
    assert case_id in _staff_case(dash_app, staff_a1, case_id).get_data(as_text=True)  # still visible
    refused = _staff_act(dash_app, staff_a1, ids.STAFF_ACCEPT, case_id).get_data(as_text=True)
    assert "This case is outside your grid" in refused
    assert _status(casework, case_id) == Status.ESCALATED
    accepted = _staff_act(dash_app, staff_a, ids.STAFF_ACCEPT, case_id).get_data(as_text=True)  # the holder
    assert "Accepted" in accepted and _status(casework, case_id) == Status.IN_PROGRESS


def test_the_staff_page_refuses_a_case_of_another_grid(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient], report: Callable[[tuple[float, float]], str],
    casework: Casework,
) -> None:
    theirs = report(IN_B1)
    _dispatched(casework, theirs, Target(grid=GRID_B1))
    staff_a = as_user("staff_a")
    shown = _staff_case(dash_app, staff_a, theirs).get_data(as_text=True)
    assert "This case is outside your grid" in shown and theirs not in shown
    assert "This case is outside your grid" in _staff_act(dash_app, staff_a, ids.STAFF_ACCEPT, theirs).get_data(
        as_text=True)
    assert _status(casework, theirs) == Status.DISPATCHED


# --- shared things: media, video, cameras, vehicles, coverage -------------------------------------------------------

def test_media_shows_a_scoped_user_only_their_grids_pictures_and_no_proxy_keeps_them(
    as_user: Callable[[str], FlaskClient], store_alert: Callable[..., Any],
) -> None:
    ours = store_alert(snapshot="bus.jpg", grid_code=GRID_A1)
    theirs = store_alert(snapshot="bus.jpg", grid_code=GRID_B1)
    staff_a, op = as_user("staff_a"), as_user("op")
    assert staff_a.get(theirs.snapshot_url).status_code == 403
    shown = staff_a.get(ours.snapshot_url)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    cache = shown.headers["Cache-Control"]
    assert "public" not in cache and "private" in cache, cache  # people's photos: never a shared cache
    assert op.get(theirs.snapshot_url).status_code == 200  # the centre sees every grid


def test_cameras_and_video_show_a_scoped_user_only_their_grids_cameras(
    as_user: Callable[[str], FlaskClient], publish_camera: Callable[..., Any], jpeg: Callable[..., bytes],
) -> None:
    frame = jpeg(width=320)
    publish_camera("cam-a", "street A", preview=frame)
    publish_camera("cam-b", "street B", preview=frame)
    staff_a, op = as_user("staff_a"), as_user("op")
    assert {c["id"] for c in staff_a.get("/api/cameras").get_json()} == {"cam-a"}
    assert {c["id"] for c in op.get("/api/cameras").get_json()} >= {"cam-a", "cam-b"}
    assert staff_a.get("/video/cam-b.jpg").status_code == 403
    assert staff_a.get("/video/cam-b.mjpg").status_code == 403
    mine = staff_a.get("/video/cam-a.jpg")
    assert mine.status_code == 200 and mine.data == frame
    assert op.get("/video/cam-b.jpg").status_code == 200


def test_vehicles_and_coverage_show_a_scoped_user_only_their_subtree(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient],
) -> None:
    car = dash_app.server.test_client()
    for vehicle, (lat, lon) in (("car-a", IN_A1), ("car-b", IN_B1)):
        fix = {"lat": lat, "lon": lon, "speed": 5.0, "time": datetime.now(UTC).isoformat()}
        posted = car.post(f"/api/telemetry/{vehicle}", json=fix, headers={"Authorization": f"Bearer {TOKEN}"})
        assert posted.status_code == 200, posted.get_data(as_text=True)
    staff_a, op = as_user("staff_a"), as_user("op")
    assert {v["id"] for v in op.get("/api/vehicles").get_json()} >= {"car-a", "car-b"}
    assert {v["id"] for v in staff_a.get("/api/vehicles").get_json()} == {"car-a"}
    everything = op.get("/api/coverage").get_json()
    assert any(not g["code"].startswith(COMMUNITY_A) for g in everything["grids"])  # B was driven too
    mine = staff_a.get("/api/coverage").get_json()
    assert mine["grids"] and all(g["code"].startswith(COMMUNITY_A) for g in mine["grids"])
    assert {v.get("id") or v.get("vehicle_id") for v in mine["vehicles"]} <= {"car-a"}


# --- sessions and logins ------------------------------------------------------------------------------------------

def test_disabling_a_user_ends_their_session(
    dash_app: dash.Dash, as_user: Callable[[str], FlaskClient], repo: Repository,
) -> None:
    """`gridwatch users` disables a user (another process): a request with their old cookie is refused within
    the user cache's few seconds, on the API and on the page's callbacks."""
    staff_a = as_user("staff_a")
    assert staff_a.get("/api/me").status_code == 200
    UserStore(repo.engine).update("staff_a", active=False)
    deadline = time.monotonic() + 3 * session.USER_CACHE_SECONDS + 5
    while staff_a.get("/api/me").status_code != 401:
        assert time.monotonic() < deadline, "the disabled user's session still works"
        time.sleep(0.2)
    assert staff_a.get("/api/alerts").status_code == 401
    assert staff_a.post("/_dash-update-component", json={"output": "staff-list.children"}).status_code == 401
    assert staff_a.get("/staff").status_code == 302


def _guess(client: FlaskClient, peer: str, forwarded_for: str | None) -> TestResponse:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/login", data={"username": "op", "password": "guess"}, headers=headers,
                       environ_overrides={"REMOTE_ADDR": peer})


def test_behind_a_trusted_proxy_logins_are_throttled_per_client_address(
    settings: Settings, repo: Repository, redis_client: redis.Redis,
) -> None:
    """Behind nginx every request comes from the proxy: without auth.trusted_proxies a guesser's five wrong
    passwords would make every user wait. With it, the guesser (X-Forwarded-For, as nginx appends it) waits and
    another client behind the same proxy logs in at once; an address the client writes itself is not believed."""
    from dashboard.auth import throttle

    add_user(repo, "op", PASSWORD, Role.OPERATOR)
    proxy = "10.0.0.5"
    app: Flask = _dash_app(_scoped_settings(settings, trusted_proxies=["10.0.0.0/24"]), repo, redis_client).server
    c = app.test_client()
    for i in range(throttle.FREE + 1):  # the guesser writes a fresh fake address in front every time
        assert _guess(c, proxy, f"192.0.2.{i}, 203.0.113.9").status_code == 401
    held = _guess(c, proxy, "192.0.2.200, 203.0.113.9")
    assert held.status_code == 429  # counted by 203.0.113.9, the address nginx saw
    other = c.post("/login", data={"username": "op", "password": PASSWORD}, headers={"X-Forwarded-For": "198.51.100.7"},
                   environ_overrides={"REMOTE_ADDR": proxy})
    assert other.status_code == 303  # a colleague behind the same proxy
    # Not from a trusted proxy: X-Forwarded-For is anyone's to write, so the peer's address counts.
    for i in range(throttle.FREE + 1):
        assert _guess(c, "198.18.0.1", f"198.51.100.{i}").status_code == 401
    assert _guess(c, "198.18.0.1", "198.51.100.99").status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    settings: Settings, repo: Repository, redis_client: redis.Redis,
) -> None:
    from dashboard.auth import policy

    assert settings.auth.trusted_proxies == ()
    add_user(repo, "op", PASSWORD, Role.OPERATOR)
    c = _dash_app(_scoped_settings(settings), repo, redis_client).server.test_client()
    from dashboard.auth import throttle

    for i in range(throttle.FREE + 1):  # a fresh forged address each try does not escape the count
        assert _guess(c, "10.0.0.5", f"192.0.2.{i}").status_code == 401
    assert _guess(c, "10.0.0.5", "192.0.2.99").status_code == 429
    nets = _scoped_settings(settings, trusted_proxies=["10.0.0.5", "fd00::/8"]).auth.trusted_proxies
    assert policy.client_address("10.0.0.5", "203.0.113.9, fd00::1", nets) == "203.0.113.9"  # two proxies deep
    assert policy.client_address("10.0.0.5", "not-an-address", nets) == "10.0.0.5"
    assert policy.client_address("10.0.0.5", None, nets) == "10.0.0.5"
    assert policy.client_address("10.0.0.6", "203.0.113.9", nets) == "10.0.0.6"
