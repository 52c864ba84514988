"""Open311 GeoReport v2: a civic app files a report into the case flow and follows it to closed."""
from __future__ import annotations

import pytest
import redis
from auth_testing import add_user, login
from flask import Flask
from pydantic import SecretStr

from alerts.casework import Casework, Target
from alerts.repository import Repository
from alerts.routing import GridRouter
from alerts.workflow import Actor, Role
from dashboard import cases_api, open311
from dashboard.app import create_app
from gridwatch.settings import Settings

IN_A1 = ("34.79625", "113.6675")
GRID_A1 = "410105001001001"


def _app(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Flask:
    blueprints = (cases_api.for_repository(repo, settings), open311.for_repository(repo, settings))
    return create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws", blueprints=blueprints).server


@pytest.fixture()
def app(settings: Settings, any_repo: Repository, redis_client: redis.Redis) -> Flask:
    return _app(settings, any_repo, redis_client)


def _file(client, **form: str):  # type: ignore[no-untyped-def]
    data = {"service_code": "0503", "lat": IN_A1[0], "long": IN_A1[1], "description": "路边占道摆摊", **form}
    return client.post("/open311/v2/requests.json", data=data)


def test_services_are_the_issue_categories(app: Flask) -> None:
    services = app.test_client().get("/open311/v2/services.json").get_json()
    codes = {s["service_code"]: s for s in services}
    assert {"0501", "0502", "0503"} <= codes.keys()
    assert codes["0503"]["service_name"] == "占道经营" and codes["0503"]["type"] == "realtime"
    assert codes["0503"]["metadata"] is False
    english = app.test_client().get("/open311/v2/services.json?lang=en").get_json()
    assert {s["service_code"]: s["service_name"] for s in english}["0502"] == "vagrancy and begging"


def test_a_request_becomes_a_case_and_its_status_follows_the_workflow(
    app: Flask, any_repo: Repository, settings: Settings
) -> None:
    c = app.test_client()  # no login: civic apps have none
    filed = _file(c, media_url="https://example.org/photo.jpg")
    assert filed.status_code == 201
    [answer] = filed.get_json()
    case_id = answer["service_request_id"]
    [req] = c.get(f"/open311/v2/requests/{case_id}.json").get_json()
    assert req["status"] == "open" and req["service_code"] == "0503"
    assert req["description"].startswith("路边占道摆摊") and "https://example.org/photo.jpg" in req["description"]
    assert abs(req["lat"] - 34.79625) < 1e-9 and req["requested_datetime"].endswith("+00:00")

    # The same stall reported again nearby joins the case instead of making a second one.
    [again] = _file(c, lat="34.79630").get_json()
    assert again["service_request_id"] == case_id

    # The centre works the case (it sees it, with the source) ...
    add_user(any_repo, "op", "op-password", Role.SUPERVISOR)
    staff = c.application.test_client()
    login(staff, "", "op", "op-password")
    assert staff.get(f"/api/cases/{case_id}").get_json()["case"]["source"] == "open311"
    work = Casework(any_repo.engine, GridRouter(any_repo.list_grids()), settings=settings.cases)
    sup = Actor("op", Role.SUPERVISOR)
    work.verify(case_id, sup)
    work.register(case_id, sup)
    work.dispatch(case_id, sup, Target(grid=GRID_A1))
    [req] = c.get(f"/open311/v2/requests/{case_id}.json").get_json()
    assert req["status"] == "open" and req["agency_responsible"] == "纬五路社区第1网格"
    assert req["expected_datetime"] is not None
    work.invalidate(case_id, sup, "not a stall")
    [req] = c.get(f"/open311/v2/requests/{case_id}.json").get_json()
    assert req["status"] == "closed" and req["status_notes"]

    listed = c.get("/open311/v2/requests.json").get_json()
    assert [r["service_request_id"] for r in listed] == [case_id]
    assert c.get("/open311/v2/requests.json?status=open").get_json() == []
    assert len(c.get(f"/open311/v2/requests.json?service_request_id={case_id},nope").get_json()) == 1


def test_bad_requests_get_the_specs_error_list(app: Flask) -> None:
    c = app.test_client()
    no_place = c.post("/open311/v2/requests.json", data={"service_code": "0503", "description": "x"})
    assert no_place.status_code == 400
    [err] = no_place.get_json()
    assert err["code"] == 400 and "lat" in err["description"]
    bad_code = _file(c, service_code="9999")
    assert bad_code.status_code == 400 and "service_code" in bad_code.get_json()[0]["description"]
    far = _file(c, lat="123")
    assert far.status_code == 400
    assert _file(c, media_url="file:///etc/passwd").status_code == 400
    missing = c.get("/open311/v2/requests/0123456789abcdef.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


def test_an_api_key_is_required_once_one_is_configured(
    settings: Settings, any_repo: Repository, redis_client: redis.Redis
) -> None:
    keyed = settings.model_copy(update={"auth": settings.auth.model_copy(
        update={"open311_api_key": SecretStr("city-app-key")})})
    c = _app(keyed, any_repo, redis_client).test_client()
    refused = _file(c)
    assert refused.status_code == 403 and refused.get_json()[0]["code"] == 403
    assert _file(c, api_key="wrong").status_code == 403
    assert _file(c, api_key="city-app-key").status_code == 201
