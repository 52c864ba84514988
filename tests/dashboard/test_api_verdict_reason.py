"""The JSON API's reject says why the alert is a false alarm, as the desk and replay pages do: the verdict is stored
with the reason picked from the category's short list; a reason not on it is refused naming the list, and nothing
is stored (real SQLite, real logins through the app)."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from auth_testing import add_user, login
from flask.testing import FlaskClient

from alerts import verdicts
from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.workflow import Role
from dashboard.app import create_app
from geo.routing import GridRouter
from gridwatch.settings import Settings
from gridwatch.types import Alert

PASSWORD = "verdict-reason-password"


@pytest.fixture()
def operator(settings: Settings, repo: Repository, redis_client: redis.Redis) -> FlaskClient:
    add_user(repo, "op", PASSWORD, Role.OPERATOR)
    app = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws").server
    client = app.test_client()
    login(client, "", "op", PASSWORD)
    return client


@pytest.fixture()
def camera_case(repo: Repository, store_alert: Callable[..., Alert]) -> Callable[[], str]:
    """A camera's vagrancy alert (0502) taken into a case, as the case consumer does."""

    def make() -> str:
        alert = store_alert(publish=False, category="0502")
        with repo.engine.begin() as conn:
            [done] = CaseService(repo.engine, GridRouter(repo.list_grids())).ingest_alerts(conn, [alert])
        return done.case_id

    return make


def test_an_api_reject_stores_the_verdict_reason_picked_from_the_categorys_list(
    operator: FlaskClient, repo: Repository, camera_case: Callable[[], str]
) -> None:
    case_id = camera_case()
    r = operator.post(f"/api/cases/{case_id}/reject",
                      json={"reason": "false_alarm", "verdict_reason": "bench_rest", "note": "resting"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "rejected"
    [verdict] = verdicts.of_case(repo.engine, case_id)
    assert (verdict.real, verdict.reason, verdict.actor) == (False, "bench_rest", "op")


def test_a_reason_not_on_the_categorys_list_is_refused_naming_the_list_and_nothing_is_stored(
    operator: FlaskClient, repo: Repository, camera_case: Callable[[], str]
) -> None:
    case_id = camera_case()
    # "licensed" is a stall's reason (0501), not one of vagrancy's (0502).
    r = operator.post(f"/api/cases/{case_id}/reject", json={"reason": "false_alarm", "verdict_reason": "licensed"},
                      headers={"Accept-Language": "en"})
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert "licensed" in error and "0502" in error
    assert all(code in error for code in ("bench_rest", "leisure", "worker", "not_person", "other")), error
    detail = operator.get(f"/api/cases/{case_id}").get_json()
    assert detail["case"]["status"] == "reported" and [h["action"] for h in detail["history"]] == ["report"]
    assert verdicts.of_case(repo.engine, case_id) == []
    # A verdict reason goes with a false-alarm reject only: with a verify it is refused too, nothing done.
    verify = operator.post(f"/api/cases/{case_id}/verify", json={"verdict_reason": "bench_rest"})
    assert verify.status_code == 400 and "false_alarm" in verify.get_json()["error"]
    assert operator.get(f"/api/cases/{case_id}").get_json()["case"]["status"] == "reported"
    assert verdicts.of_case(repo.engine, case_id) == []
