"""The desk's low-priority lane and its uncertainty order, without a browser: real SQLite, real Redis.

Alerts come as the case consumer gets them from the stream: with the verdict filter's score and lane.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.workflow import Actor, Role, WorkflowError
from dashboard import desk_queries, page_services, wall_data
from dashboard.page_services import PageServices
from gridwatch.settings import Settings
from gridwatch.types import Alert

OPERATOR = Actor("op-a", Role.OPERATOR)
START = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.fixture()
def svc(settings: Settings, repo: Repository, redis_client: redis.Redis) -> PageServices:
    return page_services.build(settings, repo, redis_client)


def _case(svc: PageServices, n: int, likely_real: float | None, lane: str = "wall") -> str:
    """An alert ``n`` minutes into the morning, at its own place in the demo map's first grid, into its case."""
    alert = Alert(id=uuid.uuid4().hex, camera_id="car-1", category="0502", confidence=0.8,
                  detected_at=START + timedelta(minutes=n), lat=34.7960 + 0.0004 * n, lon=113.6650, grid_code=None,
                  snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0), track_id=n, likely_real=likely_real,
                  lane=lane)
    assert svc.repo.add_alert(alert, f"ev-{alert.id}", None)
    with svc.repo.engine.begin() as conn:
        [done] = CaseService(svc.repo.engine, svc.router).ingest_alerts(conn, [alert])
    return done.case_id


def test_doubted_alerts_wait_in_the_low_lane_counted_and_one_key_promotes_one_to_the_wall(
    svc: PageServices, redis_client: redis.Redis, settings: Settings
) -> None:
    trusted = _case(svc, 1, 0.91)
    doubted = [_case(svc, 2, 0.04, "low"), _case(svc, 3, 0.12, "low")]
    now = START + timedelta(hours=1)

    assert [c.id for c in desk_queries.desk_queue(svc.book, now=now)] == [trusted]
    low, count = desk_queries.low_lane(svc.book, now=now)
    assert count == 2 and {c.id for c in low} == set(doubted)
    assert all(c.lane == "low" and c.likely_real is not None and c.likely_real < 0.2 for c in low)
    on_wall = wall_data.case_queue(svc.book, svc.router, None, now)
    assert [item["case_id"] for item in on_wall] == [trusted]

    desk_queries.claim(redis_client, doubted[0], OPERATOR.name)
    promoted = desk_queries.promote(svc, redis_client, doubted[0], OPERATOR, "值班员 甲")
    assert promoted.lane == "wall"
    assert {c.id for c in desk_queries.desk_queue(svc.book, now=now)} == {trusted, doubted[0]}
    assert desk_queries.low_lane(svc.book, now=now)[1] == 1
    assert {item["case_id"] for item in wall_data.case_queue(svc.book, svc.router, None, now)} == {
        trusted, doubted[0]}
    # Another operator holding the case cannot promote it under them.
    desk_queries.claim(redis_client, doubted[1], "op-b", "值班员 乙")
    with pytest.raises(desk_queries.ClaimedError):
        desk_queries.promote(svc, redis_client, doubted[1], OPERATOR, "值班员 甲")
    assert svc.book.get(doubted[1]).lane == "low"


def test_a_low_lane_case_seen_again_with_a_trusted_sighting_moves_to_the_wall(svc: PageServices) -> None:
    doubted = _case(svc, 1, 0.05, "low")
    again = Alert(id=uuid.uuid4().hex, camera_id="car-2", category="0502", confidence=0.8,
                  detected_at=START + timedelta(minutes=5), lat=34.7964, lon=113.6650, grid_code=None,
                  snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0), track_id=9, likely_real=0.7, lane="wall")
    assert svc.repo.add_alert(again, f"ev-{again.id}", None)
    with svc.repo.engine.begin() as conn:
        [done] = CaseService(svc.repo.engine, svc.router).ingest_alerts(conn, [again])
    assert done.case_id == doubted and not done.new_case
    case = svc.book.get(doubted)
    assert case.lane == "wall" and case.likely_real == pytest.approx(0.7)


def test_the_desk_puts_the_most_uncertain_scores_first(svc: PageServices, settings: Settings) -> None:
    threshold = settings.learning.review_threshold  # 0.1
    scores = {_case(svc, 1, 0.95): 0.95, _case(svc, 2, 0.21): 0.21, _case(svc, 3, None): None,
              _case(svc, 4, 0.55): 0.55, _case(svc, 5, 0.3): 0.3}
    now = START + timedelta(hours=1)
    usual = [scores[c.id] for c in desk_queries.desk_queue(svc.book, now=now)]
    assert usual == [0.3, 0.55, None, 0.21, 0.95]  # newest first
    uncertain = [scores[c.id] for c in desk_queries.desk_queue(svc.book, now=now, uncertain_around=threshold)]
    assert uncertain == [0.21, 0.3, 0.55, 0.95, None]  # nearest the threshold first, unscored last


def test_a_case_on_the_wall_cannot_be_promoted(svc: PageServices, redis_client: redis.Redis) -> None:
    trusted = _case(svc, 1, 0.8)
    with pytest.raises(WorkflowError, match="on the wall already"):
        desk_queries.promote(svc, redis_client, trusted, OPERATOR, "值班员 甲")


def test_a_false_alarm_rejected_on_the_desk_keeps_the_reason_picked_from_the_categorys_list(
    svc: PageServices, redis_client: redis.Redis
) -> None:
    from alerts import verdicts

    case_id = _case(svc, 1, 0.3)
    options = desk_queries.reason_options("0502", "zh_CN")
    assert [o["label"] for o in options] == ["长椅休息", "休闲野餐", "作业人员", "非人", "其他"]
    desk_queries.claim(redis_client, case_id, OPERATOR.name)
    desk_queries.reject_false_alarm(svc, redis_client, case_id, OPERATOR, "值班员 甲", reason="bench_rest")
    [v] = verdicts.of_case(svc.repo.engine, case_id)
    assert (v.real, v.reason, v.likely_real) == (False, "bench_rest", 0.3)  # the score the operator overruled
    assert svc.book.get(case_id).status == "rejected"


def test_the_walls_push_feed_leaves_out_alerts_of_the_low_lane() -> None:
    import json

    from dashboard.push import encode_entry
    from gridwatch.events import alert_to_stream

    def alert(lane: str, p: float) -> Alert:
        return Alert(id=uuid.uuid4().hex, camera_id="car-1", category="0502", confidence=0.8, detected_at=START,
                     lat=34.7960, lon=113.6650, grid_code=None, snapshot_url=None, bbox=(1.0, 2.0, 3.0, 4.0),
                     track_id=1, likely_real=p, lane=lane)

    assert encode_entry("1-0", alert_to_stream(alert("low", 0.05))) is None
    shown = encode_entry("2-0", alert_to_stream(alert("wall", 0.8)))
    assert shown is not None and json.loads(shown)["alert"]["likely_real"] == 0.8
