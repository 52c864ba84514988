"""Open311 GeoReport v2: a civic app files a report into the case flow and follows it to closed."""
from __future__ import annotations

import pytest
import redis
from auth_testing import add_user, login
from flask import Flask
from pydantic import SecretStr

from alerts.casework import Casework, Target
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from dashboard.app import create_app
from geo.routing import GridRouter
from gridwatch.settings import Settings

IN_A1 = ("34.79625", "113.6675")
GRID_A1 = "410105001001001"


def _app(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Flask:
    return create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws").server


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
    request_id = answer["service_request_id"]
    case_id = request_id.split("-")[0]  # the case id, signed for Open311
    [req] = c.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert req["status"] == "open" and req["service_code"] == "0503"
    assert req["description"].startswith("路边占道摆摊") and "https://example.org/photo.jpg" in req["description"]
    assert req["lat"] == 34.796 and req["requested_datetime"].endswith("+00:00")  # rounded to ~100 m

    # The same stall reported again nearby joins the case instead of making a second one.
    [again] = _file(c, lat="34.79630").get_json()
    assert again["service_request_id"] == request_id

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
    [req] = c.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert req["status"] == "open" and req["agency_responsible"] == "纬五路社区第1网格"
    assert req["expected_datetime"] is not None
    work.invalidate(case_id, sup, "not a stall")
    [req] = c.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert req["status"] == "closed" and req["status_notes"]

    listed = c.get("/open311/v2/requests.json").get_json()
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert c.get("/open311/v2/requests.json?status=open").get_json() == []
    assert len(c.get(f"/open311/v2/requests.json?service_request_id={request_id},nope").get_json()) == 1


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


def test_an_anonymous_caller_sees_only_open311_requests_in_the_filers_words_and_roughly_where(
    app: Flask, any_repo: Repository, settings: Settings
) -> None:
    """Issue 14: GET /requests/<id>.json resolved any internal case with its first note and exact position; the
    list scanned up to 20,000 cases per anonymous request."""
    import sqlalchemy as sa

    from alerts.cases import CaseService

    router = GridRouter(any_repo.list_grids())
    service = CaseService(any_repo.engine, router, settings.cases)
    phoned = service.report("0507", 34.78125, 113.6675, Actor("op", Role.OPERATOR), source="phone",
                            note="caller 13800000000, Mr Li at No. 12").case_id  # an internal case and note
    Casework(any_repo.engine, router, settings=settings.cases).verify(phoned, Actor("op", Role.OPERATOR),
                                                                     note="internal: plain-clothes team on it")
    c = app.test_client()
    for guess in (phoned, f"{phoned}-0123456789abcdef01234567", f"{phoned}-", "-"):
        refused = c.get(f"/open311/v2/requests/{guess}.json")
        assert refused.status_code == 404 and refused.get_json()[0]["code"] == 404, guess
    assert c.get(f"/open311/v2/requests.json?service_request_id={phoned}").get_json() == []

    # A citizen reports the same problem: the report joins the internal case. The filer may follow it, but sees
    # no note of the centre's and a rounded position.
    [joined] = _file(c, service_code="0507", lat="34.78127", long="113.66751", description="bricks").get_json()
    assert joined["service_request_id"].startswith(phoned + "-")
    [req] = c.get(f"/open311/v2/requests/{joined['service_request_id']}.json").get_json()
    assert req["description"] is None  # the citizen's note went to a case that was not theirs: nothing shown
    assert (req["lat"], req["long"]) == (34.781, 113.668) or (req["lat"], req["long"]) == (34.781, 113.667)
    text = str(req)
    assert "13800000000" not in text and "plain-clothes" not in text

    # The list holds Open311's own cases only, from one query with a LIMIT (no paging through every case).
    for n in range(3):
        _file(c, service_code="0503", lat=f"34.7{n}625", long="113.6675")
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_a: object) -> None:
        statements.append(statement)

    sa.event.listen(any_repo.engine, "before_cursor_execute", seen)
    try:
        listed = c.get("/open311/v2/requests.json?page_size=2").get_json()
    finally:
        sa.event.remove(any_repo.engine, "before_cursor_execute", seen)
    assert len(listed) == 2 and all(r["service_code"] == "0503" for r in listed)
    queue = [s for s in statements if "FROM cases" in s and "LIMIT" in s.upper()]
    assert len(queue) == 1 and "cases.source" in queue[0]
    assert c.get("/open311/v2/requests.json?page_size=1000").status_code == 400
