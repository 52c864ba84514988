"""Dedup into cases: sightings of one problem make one case with its history; merge and split are audited."""
from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from alerts_testing import issue_event, wait_until

from alerts.casebook import CaseBook, CaseFilter
from alerts.cases import CaseService, CaseStateError, Observation
from alerts.config import CaseSettings
from alerts.consumer import StreamConsumer
from alerts.repository import Repository
from alerts.sink import AlertSink
from alerts.workflow import Actor, Role
from geo.grids import GridFeature
from geo.routing import GridRouter, UnknownGridCodeError
from gridwatch import keys
from gridwatch.events import alert_to_stream
from gridwatch.redis_server import EmbeddedRedis

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
M_PER_DEG = 111_195.0  # metres per degree of latitude (mean earth radius)
OPERATOR = Actor("王敏", Role.OPERATOR)


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def _obs(lat: float, lon: float, at: datetime, camera: str = "car-1", category: str = "0502",
         snapshot: str | None = None) -> Observation:
    return Observation(category=category, seen_at=at, lat=lat, lon=lon, camera_id=camera, snapshot_path=snapshot)


@pytest.fixture()
def service(repo: Repository, demo_features: list[GridFeature]) -> CaseService:
    repo.replace_grids(demo_features)
    return CaseService(repo.engine, GridRouter(demo_features))


@pytest.fixture()
def book(service: CaseService) -> CaseBook:
    return CaseBook(service._engine, service.router)  # noqa: SLF001 - the same database


def test_1000_sightings_around_50_places_make_50_cases(service: CaseService, book: CaseBook) -> None:
    rng = random.Random(50)
    places = [(34.773 + j * 0.006, 113.663 + i * 0.006) for i in range(10) for j in range(5)]  # >500 m apart
    observations = []
    for p, (lat, lon) in enumerate(places):
        for k in range(20):
            # Within 11 m of the place: any two sightings of it are under 30 m apart.
            north, east = rng.uniform(-8, 8), rng.uniform(-8, 8)
            at = T0 + timedelta(minutes=10 * k, seconds=p)
            observations.append(_obs(*_offset(lat, lon, north, east), at, camera=f"car-{k % 3}"))
    rng.shuffle(observations)
    for start in range(0, 1000, 100):  # as the consumer hands them over: batches, out of order
        service.ingest(observations[start:start + 100])

    cases = book.queue(CaseFilter(limit=1000))
    assert len(cases) == 50
    assert all(c.sightings == 20 and c.status == "reported" and c.is_open for c in cases)
    assert sum(len(book.sightings(c.id)) for c in cases) == 1000
    for c in cases:
        assert c.grid_code is not None and c.community_code == c.grid_code[:12] and c.office_code == c.grid_code[:9]
        assert c.first_seen < c.last_seen and c.passes == 20  # each 10 minutes apart: a new pass every time
        assert c.first_seen == min(s.seen_at for s in book.sightings(c.id))


def test_distance_category_and_open_state_decide_what_joins(service: CaseService, book: CaseBook) -> None:
    lat, lon = 34.7990, 113.6610
    [first] = service.ingest([_obs(lat, lon, T0)])
    near = service.ingest([_obs(*_offset(lat, lon, 25, 0), T0 + timedelta(seconds=5))])
    far = service.ingest([_obs(*_offset(lat, lon, 0, 40), T0 + timedelta(seconds=6))])
    other_kind = service.ingest([_obs(lat, lon, T0 + timedelta(seconds=7), category="0503")])
    assert near[0].case_id == first.case_id and not near[0].new_case
    assert far[0].new_case and other_kind[0].new_case
    assert book.get(first.case_id).sightings == 2
    assert near[0].case_id != far[0].case_id != other_kind[0].case_id

    # A case that is no longer open takes no more sightings: the same spot later opens a new case
    # (the case it was merged into lies 40 m east, too far).
    service.merge(far[0].case_id, [first.case_id], OPERATOR, "same vendor")
    assert book.get(first.case_id).status == "rejected"
    again = service.ingest([_obs(lat, lon, T0 + timedelta(hours=1))])
    assert again[0].new_case and again[0].case_id not in (first.case_id, far[0].case_id)


def test_a_case_keeps_the_history_of_its_sightings_and_passes(service: CaseService, book: CaseBook) -> None:
    lat, lon = 34.7800, 113.6800
    seen = [
        (T0, "car-1"),
        (T0 + timedelta(seconds=1), "car-1"),  # next frame: same pass
        (T0 + timedelta(seconds=30), "cam-7"),  # another camera: a new pass
        (T0 + timedelta(hours=2), "car-1"),  # the patrol car comes back: a new pass
    ]
    for n, (at, camera) in enumerate(seen):
        service.ingest([_obs(lat, lon, at, camera, snapshot=f"snapshots/2026/11/24/s{n}.jpg")])
    [case] = book.queue()
    assert (case.first_seen, case.last_seen, case.sightings, case.passes) == (T0, seen[-1][0], 4, 3)
    assert case.snapshot_url == "/media/snapshots/2026/11/24/s3.jpg"  # the latest
    history = book.sightings(case.id)
    assert [s.snapshot_url for s in history] == [f"/media/snapshots/2026/11/24/s{n}.jpg" for n in range(4)]
    assert [s.new_pass for s in history] == [True, False, True, True]
    assert [e.action for e in book.history(case.id)] == ["report"]


def test_merge_and_split_move_sightings_and_are_audited(service: CaseService, book: CaseBook) -> None:
    lat, lon = 34.7900, 113.7000
    a = service.ingest([_obs(lat, lon, T0 + timedelta(seconds=s)) for s in range(3)])[0].case_id
    b = service.ingest([_obs(*_offset(lat, lon, 50, 0), T0 + timedelta(minutes=5, seconds=s)) for s in range(2)])
    b_id = b[0].case_id
    service.merge(a, [b_id], OPERATOR, "one stall, seen from two sides")
    merged = book.detail(a)
    assert merged.case.sightings == 5 and merged.case.passes == 2
    assert book.get(b_id).merged_into == a and book.get(b_id).drop_reason == "duplicate"
    assert book.get(b_id).is_open is False and book.sightings(b_id) == []
    assert [(e.action, e.actor, e.data.get("merged")) for e in merged.history] == [
        ("report", "car-1", None), ("merge", "王敏", [b_id])
    ]
    assert [(e.action, e.to_status) for e in book.history(b_id)][-1] == ("merge", "rejected")

    moved = [s.id for s in merged.sightings[3:]]
    new_id = service.split(a, moved, OPERATOR, "two different problems after all")
    assert book.get(a).sightings == 3 and book.get(new_id).sightings == 2
    assert book.get(new_id).status == "reported" and book.get(new_id).first_seen == T0 + timedelta(minutes=5)
    assert book.history(new_id)[0].data["split_from"] == a
    assert book.history(a)[-1].data == {"new_case": new_id, "sightings": sorted(moved)}

    with pytest.raises(CaseStateError, match="at least one sighting"):
        service.split(a, [s.id for s in book.sightings(a)], OPERATOR)
    with pytest.raises(CaseStateError, match=f"case {b_id} is rejected; only open cases can be merged"):
        service.merge(a, [b_id], OPERATOR)


def test_points_outside_every_grid_go_to_the_fallback_grid(
    repo: Repository, demo_features: list[GridFeature], book: CaseBook
) -> None:
    outside = (34.7850, 113.6500)  # west of the demo map
    unrouted = CaseService(repo.engine, GridRouter(demo_features)).ingest([_obs(*outside, T0)])[0]
    assert book.get(unrouted.case_id).assignee_grid is None
    fallback = CaseService(repo.engine, GridRouter(demo_features, fallback_grid="410105001"))
    routed = fallback.ingest([_obs(*outside, T0, category="0503")])[0]
    case = book.get(routed.case_id)
    assert (case.grid_code, case.community_code, case.office_code) == (None, None, "410105001")
    assert case.assignee_grid == "410105001" and case.routed_by_fallback
    with pytest.raises(UnknownGridCodeError, match="fallback grid '999' is not in the grid map"):
        GridRouter(demo_features, fallback_grid="999")


def test_a_later_pass_that_sees_nothing_flags_the_case_possibly_resolved(service: CaseService, book: CaseBook) -> None:
    lat, lon = 34.7750, 113.7100
    case_id = service.ingest([_obs(lat, lon, T0)])[0].case_id
    assert service.record_clear_pass(case_id, "car-2", T0 + timedelta(hours=3), lat, lon)
    assert [c.id for c in book.queue(CaseFilter(possibly_resolved_only=True))] == [case_id]
    assert book.history(case_id)[-1].action == "seen_clear"
    service.ingest([_obs(lat, lon, T0 + timedelta(hours=4))])  # it is back: no longer possibly resolved
    assert book.queue(CaseFilter(possibly_resolved_only=True)) == []


def test_an_alert_delivered_twice_makes_one_case_end_to_end(
    repo: Repository, demo_features: list[GridFeature], redis_client: redis.Redis, redis_server: EmbeddedRedis,
    tmp_path: Path,
) -> None:
    repo.replace_grids(demo_features)
    service = CaseService(repo.engine, GridRouter(demo_features), CaseSettings(dedup_distance_m=30))
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    alert = sink.record(issue_event(1, lat=34.7990, lon=113.6610))
    assert alert is not None
    redis_client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]  # delivered again
    consumer = StreamConsumer(repo.engine, redis_server.url, service.ingest_alerts)
    consumer.poll_once(block_ms=10)
    # And once more straight into the service, as a re-delivery after the inbox was lost would be.
    with repo.engine.begin() as conn:
        assert service.ingest_alerts(conn, [alert]) == []
    book = CaseBook(repo.engine, service.router)
    [case] = book.queue()
    assert case.sightings == 1 and case.grid_code == "410105001001001"
    assert [s.alert_id for s in book.sightings(case.id)] == [alert.id]
    consumer.stop()
    sink.stop()


def test_two_consumers_of_one_group_racing_on_the_same_places_still_make_one_case_each(
    repo: Repository, demo_features: list[GridFeature], redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    repo.replace_grids(demo_features)
    service = CaseService(repo.engine, GridRouter(demo_features))
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    places = [(34.7750 + 0.005 * k, 113.6650 + 0.01 * k) for k in range(5)]
    # Small batches, so both consumers keep getting sightings of every place at the same time.
    consumers = [StreamConsumer(repo.engine, redis_server.url, service.ingest_alerts, batch=5, block_ms=50,
                                consumer_name=f"c{i}") for i in range(2)]
    for c in consumers:
        c.start()
    # Both must be reading the stream before the first sighting lands: Redis then hands new entries to whichever
    # is waiting, so neither can drain the stream alone before the other has started. (Redis 7.0 lists a consumer
    # only once it was given an entry, so the readers are found among the server's clients.)
    client = redis.Redis.from_url(redis_server.url)
    wait_until(lambda: sum(c.get("cmd") == "xreadgroup" for c in client.client_list()) == 2,
               what="both consumers to read the stream")
    for n in range(200):
        lat, lon = places[n % 5]
        assert sink.record(issue_event(n, lat=lat, lon=lon)) is not None
    book = CaseBook(repo.engine, service.router)
    wait_until(lambda: sum(c.processed for c in consumers) == 200, what="both consumers to process all")
    for c in consumers:
        c.stop()
    client.close()
    assert all(c.processed > 0 for c in consumers)  # both really took part
    cases = book.queue()
    assert len(cases) == 5 and sorted(c.sightings for c in cases) == [40] * 5
    sink.stop()
