"""One problem, one case: repeated sightings of a place, fixed cameras' picture spots, quiet rejected places,
places seen again after their case closed, and the pure place rules behind them."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from alerts import places
from alerts.casebook import CaseBook, CaseFilter
from alerts.cases import CaseService, Observation
from alerts.casework import Casework, Target
from alerts.config import CaseSettings
from alerts.repository import Repository
from alerts.workflow import Actor, RejectReason, Role, WorkflowError
from dashboard.desk_queries import desk_queue
from geo import sight
from geo.routing import GridRouter

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
AT = (34.7990, 113.6610)
OPERATOR = Actor("王敏", Role.OPERATOR)
M_PER_DEG = 111_195.0


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def _obs(at: datetime, where: tuple[float, float] | None = AT, camera: str = "car-1", category: str = "0502",
         confidence: float = 0.6, bbox: places.Box | None = (100, 100, 160, 220), snapshot: str | None = None,
         fixed: bool = False) -> Observation:
    return Observation(category=category, seen_at=at, lat=where[0] if where else None,
                       lon=where[1] if where else None, camera_id=camera, confidence=confidence, bbox=bbox,
                       snapshot_path=snapshot, fixed=fixed)


@pytest.fixture()
def service(repo: Repository, router: GridRouter) -> CaseService:
    return CaseService(repo.engine, router, CaseSettings(suppress_days=7))


@pytest.fixture()
def book(repo: Repository, router: GridRouter) -> CaseBook:
    return CaseBook(repo.engine, router)


@pytest.fixture()
def work(repo: Repository, router: GridRouter) -> Casework:
    return Casework(repo.engine, router)


# --- the pure rules ----------------------------------------------------------------------------------------------

def test_same_spot_is_one_sitter_moving_a_little_not_two_stalls_side_by_side() -> None:
    sitter = (100.0, 100.0, 160.0, 220.0)
    assert places.same_spot(sitter, (110.0, 105.0, 172.0, 230.0))
    assert not places.same_spot(sitter, (400.0, 100.0, 460.0, 220.0))
    assert not places.same_spot((0.0, 0.0, 50.0, 50.0), (60.0, 0.0, 110.0, 50.0))  # neighbouring stalls


def test_a_better_snapshot_is_more_confident_or_larger() -> None:
    small = places.snapshot_score(0.6, (0, 0, 40, 80))
    large = places.snapshot_score(0.6, (0, 0, 160, 320))
    sure = places.snapshot_score(0.9, (0, 0, 40, 80))
    assert places.better_snapshot(large, small) and places.better_snapshot(sure, small)
    assert not places.better_snapshot(small, large) and not places.better_snapshot(None, small)
    assert places.better_snapshot(small, None)


@pytest.mark.parametrize(
    ("north_m", "east_m", "heading", "facing", "expected"),
    [
        (20, 0, 0.0, 0.0, True),  # 20 m straight ahead of a forward camera
        (-20, 0, 0.0, 0.0, False),  # behind it
        (0, 20, 0.0, 90.0, True),  # to the right of a camera looking right
        (0, -20, 0.0, 90.0, False),  # to the left of it
        (0, 20, 90.0, 0.0, True),  # driving east, the place ahead
        (60, 0, 0.0, 0.0, False),  # ahead but out of range
        (1, 1, None, 0.0, True),  # standing on the place: direction does not matter
        (20, 0, None, 0.0, False),  # no heading: no claim about a place 20 m away
        (20, 20, 0.0, 0.0, True),  # 45 degrees off the axis, inside a 90-degree view
        (20, 25, 0.0, 0.0, False),  # just outside it
    ],
)
def test_a_place_is_in_view_when_near_and_inside_the_field_of_view(
    north_m: float, east_m: float, heading: float | None, facing: float, expected: bool
) -> None:
    car = (34.80, 113.66)
    place = _offset(*car, north_m, east_m)
    assert sight.in_view(*car, heading, *place, range_m=40, fov_deg=90, facing_deg=facing) is expected


# --- one problem, one case -------------------------------------------------------------------------------------

def test_n_sightings_of_one_place_are_one_case_with_n_sightings_and_its_best_snapshot(
    service: CaseService, book: CaseBook
) -> None:
    shots = [(0.55, (100, 100, 140, 180)), (0.9, (100, 100, 220, 340)), (0.6, (100, 100, 150, 190))]
    for lap, (conf, box) in enumerate(shots):
        where = _offset(*AT, 4 * lap, -3 * lap)  # GPS wanders a few metres from lap to lap
        service.ingest([_obs(T0 + timedelta(minutes=3 * lap), where, confidence=conf, bbox=box,
                             snapshot=f"snapshots/lap{lap}.jpg")])
    [case] = book.queue(CaseFilter(open_only=True))
    assert (case.sightings, case.passes) == (3, 3)
    assert case.last_seen == T0 + timedelta(minutes=6)
    assert case.snapshot_url is not None and case.snapshot_url.endswith("lap1.jpg")  # the large, sure one
    assert len(book.sightings(case.id)) == 3


def test_a_fixed_camera_is_deduplicated_by_the_spot_in_its_picture(repo: Repository, router: GridRouter,
                                                                  book: CaseBook) -> None:
    service = CaseService(repo.engine, router, fixed_camera=lambda cid: cid == "square-east")
    camera_place = (34.7800, 113.6800)  # a fixed camera's GPS is its own position, the same for every alert
    left, right = (100.0, 300.0, 160.0, 420.0), (900.0, 300.0, 960.0, 420.0)
    for i in range(4):
        service.ingest([
            _obs(T0 + timedelta(minutes=i), camera_place, camera="square-east", bbox=(left[0] + 3 * i, *left[1:]),
                 fixed=True),
            _obs(T0 + timedelta(minutes=i, seconds=5), camera_place, camera="square-east", bbox=right, fixed=True),
        ])
    cases = book.queue(CaseFilter(open_only=True))
    assert sorted(c.sightings for c in cases) == [4, 4]
    # A camera without any position: still by camera and spot.
    for i in range(3):
        service.ingest([_obs(T0 + timedelta(minutes=i), None, camera="gate", bbox=left)])
    service.ingest([_obs(T0 + timedelta(minutes=5), None, camera="gate", bbox=right)])
    assert sorted(c.sightings for c in book.queue(CaseFilter(open_only=True))) == [1, 3, 4, 4]


def test_a_verdict_applies_to_the_whole_item(service: CaseService, book: CaseBook, work: Casework) -> None:
    for i in range(5):
        service.ingest([_obs(T0 + timedelta(minutes=i))])
    [case] = book.queue(CaseFilter(open_only=True))
    work.reject(case.id, OPERATOR, RejectReason.FALSE_ALARM.value, now=T0 + timedelta(minutes=6))
    assert book.queue(CaseFilter(open_only=True)) == []
    assert {s.kind for s in book.sightings(case.id)} == {"seen"} and len(book.sightings(case.id)) == 5


def test_a_rejected_place_stays_quiet_for_suppress_days_and_counts_what_it_kept(
    service: CaseService, book: CaseBook, work: Casework
) -> None:
    [first] = service.ingest([_obs(T0)])
    work.reject(first.case_id, OPERATOR, RejectReason.FALSE_ALARM.value, now=T0 + timedelta(minutes=1))
    kept = [service.ingest([_obs(T0 + timedelta(days=d), _offset(*AT, 5, 5))])[0] for d in (1, 3, 6.9)]
    assert all(k.suppressed and k.case_id == first.case_id for k in kept)
    assert book.queue(CaseFilter(open_only=True)) == []  # nothing on the queue
    rejected = book.get(first.case_id)
    assert (rejected.status, rejected.suppressed) == ("rejected", 3)
    assert [s.kind for s in book.sightings(first.case_id)] == ["seen", "suppressed", "suppressed", "suppressed"]
    # Another category at that place, and the same category 40 m away, are not quieted.
    assert not service.ingest([_obs(T0 + timedelta(days=2), category="0503")])[0].suppressed
    assert not service.ingest([_obs(T0 + timedelta(days=2), _offset(*AT, 40, 0))])[0].suppressed
    # After suppress_days the place speaks again: a new case, linked to the rejected one.
    [later] = service.ingest([_obs(T0 + timedelta(days=8))])
    assert later.new_case and not later.suppressed
    assert book.get(later.case_id).previous_case_id == first.case_id


def test_a_sighting_where_a_case_was_closed_opens_a_new_case_linked_to_it(
    service: CaseService, book: CaseBook, work: Casework
) -> None:
    [first] = service.ingest([_obs(T0)])
    cid = first.case_id
    boss = Actor("李强", Role.SUPERVISOR)
    work.verify(cid, OPERATOR, now=T0)
    work.register(cid, OPERATOR, now=T0)
    work.dispatch(cid, OPERATOR, Target(grid=book.get(cid).grid_code), now=T0)
    work.start(cid, boss, now=T0)
    work.handle(cid, boss, "taken to the shelter", "photos/done.jpg", now=T0)
    work.check(cid, OPERATOR, now=T0)
    work.close(cid, boss, now=T0)
    [again] = service.ingest([_obs(T0 + timedelta(days=1))])
    assert again.new_case and again.case_id != cid
    assert book.get(again.case_id).previous_case_id == cid
    assert book.history(again.case_id)[0].data["previous_case"] == cid


def test_a_seen_clear_case_goes_to_the_check_and_one_action_closes_it(
    service: CaseService, book: CaseBook, work: Casework
) -> None:
    [first] = service.ingest([_obs(T0, snapshot="snapshots/a.jpg")])
    other = service.ingest([_obs(T0, _offset(*AT, 500, 0))])[0].case_id
    with pytest.raises(WorkflowError):
        work.close(other, OPERATOR)  # nothing seen clear: an operator cannot close it
    assert service.record_clear_pass(first.case_id, "car-2", T0 + timedelta(hours=1), *AT, "snapshots/clear.jpg")
    case = book.get(first.case_id)
    assert case.status == "handled" and case.seen_clear and case.feedback_note == "现场复查: 已无"
    assert case.sightings == 1  # a clear pass is on the timeline, not counted as a sighting
    assert [s.kind for s in book.sightings(case.id)] == ["seen", "clear"]
    assert [c.id for c in desk_queue(book)] == [case.id, other]  # the desk offers it first, to close at once
    assert work.close(case.id, OPERATOR).status == "closed"
    assert not service.record_clear_pass(case.id, "car-2", T0 + timedelta(hours=2))  # finished: nothing more
