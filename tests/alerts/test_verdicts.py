"""Verdicts with their evidence, the verdict filter in the sink and the low-priority lane (real DB, real Redis)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import redis
from verdict_testing import OPERATOR, case_of, event, evidence, verdicts_where_benches_mean_false

from alerts import filters, verdicts
from alerts.casebook import CaseFilter
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.repository import Repository
from alerts.sink import AlertSink
from alerts.verdict_learning import learn
from alerts.workflow import RejectReason, WorkflowError
from geo.grids import GridIndex
from geo.routing import GridRouter
from gridwatch import keys
from gridwatch.events import alert_from_stream
from gridwatch.settings import LearningSettings


@pytest.fixture()
def filter_set() -> filters.FilterSet:
    return filters.FilterSet(threshold=0.5)


@pytest.fixture()
def sink(repo: Repository, router: GridRouter, redis_client: redis.Redis, tmp_path: Path,
         filter_set: filters.FilterSet) -> AlertSink:
    return AlertSink(repo, redis_client, tmp_path / "media", GridIndex(repo.list_grids()), filters=filter_set)


def test_a_reject_is_stored_with_what_the_pipeline_saw(
    sink: AlertSink, service: CaseService, work: Casework, tmp_path: Path
) -> None:
    alert, case_id = case_of(sink, service, event(1, evidence(2.0), picture=True))
    work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="bench_rest")

    [v] = verdicts.of_case(sink._repo.engine, case_id)
    assert (v.real, v.reason, v.category, v.alert_id, v.actor) == (False, "bench_rest", "0502", alert.id, "王敏")
    assert v.bbox == alert.bbox and v.snapshot_path is not None
    assert v.features["seats_near"] == 2.0 and v.features["posture_sitting"] == 0.8
    assert len(v.keypoints) == 17 and v.keypoints[0] == [100.0, 200.0, 0.9]
    assert v.nearby == [{"class": "bench", "confidence": 0.81, "bbox": [60.0, 300.0, 400.0, 420.0]}]
    assert v.crop_path is not None
    crop = cv2.imread(str(tmp_path / "media" / v.crop_path))
    # The box (160 x 250) with a quarter of its size around it (241 x 376), scaled to 320 on its longer side.
    assert crop is not None and crop.shape[:2] == (320, 205)


def test_a_confirm_is_a_real_verdict_and_a_duplicate_is_no_verdict(
    sink: AlertSink, service: CaseService, work: Casework
) -> None:
    _a, confirmed = case_of(sink, service, event(1, evidence(0.0)))
    _b, duplicate = case_of(sink, service, event(2, evidence(0.0)))
    work.verify(confirmed, OPERATOR)
    work.reject(duplicate, OPERATOR, RejectReason.DUPLICATE.value)
    engine = sink._repo.engine
    assert [(v.real, v.reason) for v in verdicts.of_case(engine, confirmed)] == [(True, "confirmed")]
    assert verdicts.of_case(engine, duplicate) == []  # the same problem seen twice is no false alarm


def test_a_reason_not_on_the_category_list_is_refused_and_nothing_changes(
    sink: AlertSink, service: CaseService, work: Casework
) -> None:
    _a, case_id = case_of(sink, service, event(1, evidence(1.0)))
    with pytest.raises(WorkflowError, match="bench_rest, leisure, worker, not_person, other"):
        work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="licensed")
    assert work.book.get(case_id).status == "reported"
    assert verdicts.of_case(sink._repo.engine, case_id) == []


def test_a_learned_filter_sends_doubted_alerts_to_the_low_lane_and_promote_brings_one_to_the_wall(
    sink: AlertSink, service: CaseService, work: Casework, redis_client: redis.Redis,
    filter_set: filters.FilterSet,
) -> None:
    engine = sink._repo.engine
    verdicts_where_benches_mean_false(sink, service, work, 40)
    [outcome] = learn(engine, LearningSettings(min_per_class=10, review_threshold=0.5))
    assert outcome.refused is None and outcome.new is not None
    assert outcome.new.false_off_wall == outcome.new.false_alarms and outcome.new.true_moved == 0

    watcher = filters.FilterWatcher(engine, filter_set, every_seconds=60)
    assert watcher.check() is False  # made after the filter was stored: it has it already
    doubted, doubted_case = case_of(sink, service, event(100, evidence(2.0)))
    trusted, trusted_case = case_of(sink, service, event(101, evidence(0.0)))
    assert doubted.lane == "low" and doubted.likely_real is not None and doubted.likely_real < 0.5
    assert trusted.lane == "wall" and trusted.likely_real is not None and trusted.likely_real > 0.5

    # The stream entry says so (the wall's push leaves it out), and so does the case.
    lanes = {alert_from_stream(f).id: alert_from_stream(f).lane  # type: ignore[arg-type]
             for _sid, f in redis_client.xrange(keys.ALERTS_STREAM)}
    assert lanes[doubted.id] == "low" and lanes[trusted.id] == "wall"
    book = work.book
    wall = {c.id for c in book.queue(CaseFilter(open_only=True, lane="wall"))}
    low = {c.id for c in book.queue(CaseFilter(open_only=True, lane="low"))}
    assert trusted_case in wall and doubted_case not in wall and doubted_case in low
    assert book.get(doubted_case).likely_real == pytest.approx(doubted.likely_real, abs=1e-4)

    promoted = work.promote(doubted_case, OPERATOR)
    assert promoted.lane == "wall" and promoted.status == "reported"
    assert doubted_case in {c.id for c in book.queue(CaseFilter(open_only=True, lane="wall"))}
    assert [e.action for e in book.history(doubted_case)][-1] == "promote"
    with pytest.raises(WorkflowError, match="on the wall already"):
        work.promote(doubted_case, OPERATOR)


def test_a_worse_filter_is_refused_and_the_one_in_use_stays(
    sink: AlertSink, service: CaseService, work: Casework
) -> None:
    engine = sink._repo.engine
    verdicts_where_benches_mean_false(sink, service, work, 60)
    settings = LearningSettings(min_per_class=5, review_threshold=0.5)
    [first] = learn(engine, settings)
    assert first.filter_id is not None
    # A filter that may learn from the newest 16 verdicts only is surer of nothing: on its held-apart verdicts
    # it does worse than the filter in use, which learned from many more.
    [second] = learn(engine, settings.model_copy(update={"max_verdicts": 16}))
    assert second.filter_id is None and second.refused is not None
    assert second.new is not None and second.in_use is not None
    assert second.new.log_loss > second.in_use.log_loss
    assert f"than filter #{first.filter_id} in use" in second.refused and "the one in use stays" in second.refused
    assert filters.active(engine)["0502"].id == first.filter_id
    assert filters.version(engine) == first.filter_id  # nothing stored: running workers keep the filter in use


@pytest.mark.parametrize("kinds", ["none", "only rejected"])
def test_an_empty_or_one_class_verdict_set_is_refused_with_a_message(
    kinds: str, sink: AlertSink, service: CaseService, work: Casework
) -> None:
    engine = sink._repo.engine
    if kinds == "only rejected":
        for i in range(12):
            _a, case_id = case_of(sink, service, event(i, evidence(2.0)))
            work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="bench_rest")
    [outcome] = learn(engine, LearningSettings(min_per_class=10))
    assert outcome.filter_id is None
    expected = ("no verdicts yet" if kinds == "none"
                else "category 0502: 0 confirmed and 12 rejected verdicts; a filter needs at least 10 of each")
    assert outcome.refused is not None and expected in outcome.refused
    assert filters.active(engine) == {} and filters.version(engine) == 0


def test_verdict_rows_keep_their_json_readable(sink: AlertSink, service: CaseService, work: Casework) -> None:
    """The stored evidence is plain JSON (other tools read it): no pickles, no numpy types."""
    _a, case_id = case_of(sink, service, event(1, evidence(1.0)))
    work.verify(case_id, OPERATOR)
    import sqlalchemy as sa

    with sink._repo.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT features, keypoints, nearby FROM verdicts")).one()
    assert json.loads(row.features)["seats_near"] == 1.0
    assert len(json.loads(row.keypoints)) == 17 and json.loads(row.nearby)[0]["class"] == "bench"


def test_the_queue_puts_the_scores_nearest_the_threshold_first_on_every_backend(
    service: CaseService, work: Casework
) -> None:
    from datetime import UTC, datetime, timedelta

    from alerts.cases import Observation

    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    scores = [0.95, 0.12, None, 0.4, 0.02]
    for n, p in enumerate(scores):
        service.ingest([Observation("0502", at + timedelta(minutes=n), 34.7990 + 0.0004 * n, 113.6610,
                                    alert_id=None, camera_id="car-1", likely_real=p)])
    order = [c.likely_real for c in work.book.queue(CaseFilter(open_only=True, uncertain_first=0.1))]
    assert order == [0.12, 0.02, 0.4, 0.95, None]
