"""The cases API on SQLite and PostgreSQL with real logins: scopes, roles, the whole loop, claims, figures, exports."""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from auth_testing import add_user, login
from flask import Flask
from flask.testing import FlaskClient

from alerts.cases import CaseService
from alerts.casework import Casework, Target
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from dashboard.app import create_app
from geo.routing import GridRouter
from gridwatch.settings import Settings

COMMUNITY_A = "410105001001"  # 纬五路社区
COMMUNITY_B = "410105001002"  # 农业路社区
GRID_A1 = "410105001001001"
IN_A1 = (34.79625, 113.6675)
IN_A2 = (34.79625, 113.6825)
IN_B1 = (34.78125, 113.6675)
PASSWORD = "case-api-password"


@pytest.fixture()
def app(settings: Settings, any_repo: Repository, redis_client: redis.Redis) -> Flask:
    repo = any_repo
    for name, role, scope in (
        ("op", Role.OPERATOR, None), ("op2", Role.OPERATOR, None), ("sup", Role.SUPERVISOR, None),
        ("staff_a", Role.GRID_STAFF, COMMUNITY_A), ("staff_b", Role.GRID_STAFF, COMMUNITY_B),
        ("staff_a1", Role.GRID_STAFF, GRID_A1),
    ):
        add_user(repo, name, PASSWORD, role, scope)
    return create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws").server


@pytest.fixture()
def as_user(app: Flask) -> Callable[[str], FlaskClient]:
    def make(username: str) -> FlaskClient:
        client = app.test_client()
        login(client, "", username, PASSWORD)
        return client

    return make


@pytest.fixture()
def service(any_repo: Repository, settings: Settings) -> CaseService:
    return CaseService(any_repo.engine, GridRouter(any_repo.list_grids()), settings.cases)


def _report(service: CaseService, where: tuple[float, float], category: str = "0503") -> str:
    return service.report(category, where[0], where[1], Actor("13800000000", Role.OPERATOR), source="phone").case_id


def test_a_community_grid_staff_sees_and_touches_only_its_own_subtree(
    as_user: Callable[[str], FlaskClient], service: CaseService
) -> None:
    mine = _report(service, IN_A1)
    theirs = _report(service, IN_B1)
    a = as_user("staff_a")
    listed = a.get("/api/cases?limit=100").get_json()
    assert [c["id"] for c in listed["items"]] == [mine] and listed["total"] == 1
    assert listed["items"][0]["category_name"] == "占道经营"
    assert a.get(f"/api/cases/{mine}").status_code == 200
    refused = a.get(f"/api/cases/{theirs}")
    assert refused.status_code == 403 and COMMUNITY_A in refused.get_json()["error"]
    assert a.get(f"/api/cases?grid={COMMUNITY_B}").status_code == 403
    assert a.post(f"/api/cases/{theirs}/start", json={}).status_code == 403
    assert a.post(f"/api/cases/{theirs}/claim").status_code == 403
    assert a.get(f"/api/figures?grid={COMMUNITY_B}").status_code == 403
    assert "农业路" not in a.get("/api/export/figures.csv?level=3").data.decode("utf-8-sig")
    # The centre sees both.
    assert as_user("op").get("/api/cases").get_json()["total"] == 2


def test_the_whole_loop_over_the_api_with_a_photo_and_an_audit_log(
    as_user: Callable[[str], FlaskClient], service: CaseService, jpeg: Callable[..., bytes], settings: Settings
) -> None:
    case_id = _report(service, IN_A1)
    op, sup, staff = as_user("op"), as_user("sup"), as_user("staff_a")
    assert op.post(f"/api/cases/{case_id}/verify", json={"note": "seen on camera"}).status_code == 200
    assert op.post(f"/api/cases/{case_id}/register", json={}).status_code == 200
    dispatched = op.post(f"/api/cases/{case_id}/dispatch", json={"grid": GRID_A1, "staff": "张伟"})
    assert dispatched.status_code == 200 and dispatched.get_json()["due_at"] is not None
    assert staff.post(f"/api/cases/{case_id}/start", json={}).status_code == 200
    no_photo = staff.post(f"/api/cases/{case_id}/handle", json={"note": "stall moved"})
    assert no_photo.status_code == 400 and "photo" in no_photo.get_json()["error"]
    not_a_photo = staff.post(f"/api/cases/{case_id}/handle", content_type="multipart/form-data",
                             data={"note": "stall moved", "photo": (io.BytesIO(b"GIF89a..."), "x.gif")})
    assert not_a_photo.status_code == 400
    handled = staff.post(f"/api/cases/{case_id}/handle", content_type="multipart/form-data",
                         data={"note": "stall moved", "photo": (io.BytesIO(jpeg("bus.jpg", 320)), "after.jpg")})
    assert handled.status_code == 200, handled.get_json()
    photo_url = handled.get_json()["feedback_photo_url"]
    assert photo_url.startswith("/media/feedback/")
    assert op.get(photo_url).data[:3] == b"\xff\xd8\xff"
    assert op.post(f"/api/cases/{case_id}/check", json={}).status_code == 200
    closed = sup.post(f"/api/cases/{case_id}/close", json={"note": "done"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    detail = op.get(f"/api/cases/{case_id}").get_json()
    steps = [(h["action"], h["actor"], h["role"]) for h in detail["history"]]
    assert steps[1:] == [
        ("verify", "op", "operator"), ("register", "op", "operator"), ("dispatch", "op", "operator"),
        ("start", "staff_a", "grid_staff"), ("handle", "staff_a", "grid_staff"), ("check", "op", "operator"),
        ("close", "sup", "supervisor"),
    ]
    assert detail["sightings"] and detail["allowed_actions"] == []


def test_a_role_not_allowed_is_403_and_an_illegal_transition_is_409_with_the_workflows_words(
    as_user: Callable[[str], FlaskClient], service: CaseService
) -> None:
    case_id = _report(service, IN_A1)
    op, staff = as_user("op"), as_user("staff_a")
    refused = staff.post(f"/api/cases/{case_id}/verify", json={})
    assert refused.status_code == 403 and "grid_staff may not verify" in refused.get_json()["error"]
    assert op.post(f"/api/cases/{case_id}/verify", json={}).status_code == 200
    again = op.post(f"/api/cases/{case_id}/verify", json={})
    assert again.status_code == 409 and "cannot verify a case that is verified" in again.get_json()["error"]
    assert op.post(f"/api/cases/{case_id}/defer", json={"note": "later"}).status_code == 403  # supervisors only
    assert op.post(f"/api/cases/{case_id}/fly", json={}).status_code == 404
    assert op.post("/api/cases/nope/verify", json={}).status_code == 404
    stranger = as_user("op").application.test_client()
    assert stranger.post(f"/api/cases/{case_id}/register", json={}).status_code == 401


def test_two_operators_cannot_work_the_same_case_or_alert_at_once(
    as_user: Callable[[str], FlaskClient], service: CaseService, any_repo: Repository,
    make_alert: Callable[..., object],
) -> None:
    case_id = _report(service, IN_A1)
    op, op2, sup = as_user("op"), as_user("op2"), as_user("sup")
    taken = op.post(f"/api/cases/{case_id}/claim")
    assert taken.status_code == 200 and taken.get_json()["username"] == "op"
    second = op2.post(f"/api/cases/{case_id}/claim")
    assert second.status_code == 409
    assert "op" in second.get_json()["error"] and second.get_json()["claimed_by"]["username"] == "op"
    assert op2.post(f"/api/cases/{case_id}/verify", json={}).status_code == 409
    assert op.post(f"/api/cases/{case_id}/verify", json={}).status_code == 200  # the holder works on
    assert op.post(f"/api/cases/{case_id}/claim").status_code == 200  # renewing is fine
    assert op2.get(f"/api/cases/{case_id}").get_json()["claimed_by"]["username"] == "op"
    assert op2.delete(f"/api/cases/{case_id}/claim").status_code == 409  # not theirs to drop
    assert op.delete(f"/api/cases/{case_id}/claim").get_json() == {"released": True}
    assert op2.post(f"/api/cases/{case_id}/claim").status_code == 200
    assert sup.delete(f"/api/cases/{case_id}/claim").get_json() == {"released": True}  # a supervisor clears it

    alert = make_alert()
    assert any_repo.add_alert(alert, event_id=f"ev-{alert.id}", snapshot_path=None)  # type: ignore[attr-defined]
    assert op.post(f"/api/alerts/{alert.id}/claim").status_code == 200  # type: ignore[attr-defined]
    clash = op2.post(f"/api/alerts/{alert.id}/claim")  # type: ignore[attr-defined]
    assert clash.status_code == 409 and "op" in clash.get_json()["error"]
    assert op.post("/api/alerts/nope/claim").status_code == 404


def test_merge_split_and_overdue_queries_over_the_api(
    as_user: Callable[[str], FlaskClient], service: CaseService, any_repo: Repository, settings: Settings
) -> None:
    op, staff_a1, staff_a = as_user("op"), as_user("staff_a1"), as_user("staff_a")
    first = _report(service, IN_A1)
    second = _report(service, IN_A2, category="0501")
    merged = op.post("/api/cases/merge", json={"into": first, "others": [second], "note": "same stall"})
    assert merged.status_code == 200 and merged.get_json()["sightings"] == 2
    assert op.get(f"/api/cases/{second}").get_json()["case"]["merged_into"] == first
    again = op.post("/api/cases/merge", json={"into": first, "others": [second]})
    assert again.status_code == 409
    sightings = op.get(f"/api/cases/{first}").get_json()["sightings"]
    split = op.post(f"/api/cases/{first}/split", json={"sightings": [sightings[-1]["id"]], "note": "two stalls"})
    assert split.status_code == 201 and split.get_json()["new_case"]["sightings"] == 1
    assert staff_a.post("/api/cases/merge", json={"into": first, "others": [second]}).status_code == 403

    # An escalated case the community left past its 7 working days: the grid below may query it.
    router = GridRouter(any_repo.list_grids())
    work = Casework(any_repo.engine, router, settings=settings.cases)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    centre = Actor("op", Role.OPERATOR)
    grid_staff = Actor("staff_a1", Role.GRID_STAFF, GRID_A1)
    work.verify(first, centre, now=long_ago)
    work.register(first, centre, now=long_ago)
    work.dispatch(first, centre, Target(grid=GRID_A1), now=long_ago)
    work.start(first, grid_staff, now=long_ago)
    work.escalate(first, grid_staff, "needs the community", now=long_ago)
    # Escalated to the community: the grid below no longer acts on it, the community does.
    refused = staff_a1.post(f"/api/cases/{first}/start", json={})
    assert refused.status_code == 403 and COMMUNITY_A in refused.get_json()["error"]
    overdue = staff_a.get("/api/cases/overdue").get_json()
    assert [c["id"] for c in overdue] == [first] and overdue[0]["overdue"] is True
    assert as_user("staff_b").get("/api/cases/overdue").get_json() == []
    filed = staff_a1.post(f"/api/cases/{first}/queries", json={"question": "why not handled?"})
    assert filed.status_code == 201, filed.get_json()
    query_id = filed.get_json()["id"]
    assert staff_a1.post(f"/api/cases/{first}/queries", json={"question": "again?"}).status_code == 409
    assert [q["id"] for q in staff_a.get("/api/queries?open=1").get_json()] == [query_id]
    answered = staff_a.post(f"/api/queries/{query_id}/answer", json={"answer": "team sent today"})
    assert answered.status_code == 200 and answered.get_json()["answered_by"] == "staff_a"


def test_figures_assessment_and_exports_for_a_subtree(
    as_user: Callable[[str], FlaskClient], service: CaseService
) -> None:
    _report(service, IN_A1)
    _report(service, IN_A2, category="0501")
    _report(service, IN_B1)
    staff, op = as_user("staff_a"), as_user("op")
    mine = staff.get("/api/figures").get_json()
    assert mine["grid_code"] == COMMUNITY_A and mine["reported"] == 2 and mine["invariant_holds"]
    everything = op.get("/api/figures").get_json()
    assert everything["grid_code"] is None and everything["reported"] == 3
    by_grid = staff.get("/api/figures/grids?level=3").get_json()
    assert {f["grid_code"][:12] for f in by_grid} == {COMMUNITY_A} and len(by_grid) == 4
    scores = staff.get("/api/assessment?level=3").get_json()
    assert len(scores) == 4 and all(0 <= s["total"] <= 100 for s in scores)
    assert staff.get("/api/figures?month=2026-13").status_code == 400
    csv = staff.get("/api/export/figures.csv?level=3")
    assert csv.status_code == 200 and csv.data.startswith(b"\xef\xbb\xbf")
    text = csv.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("网格编码") or "网格" in text.splitlines()[0]
    assert "纬五路社区第1网格" in text and "农业路" not in text
    xlsx = op.get("/api/export/assessment.xlsx?level=2")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers["Content-Disposition"]
    assert op.get("/api/export/figures.pdf").status_code == 404
