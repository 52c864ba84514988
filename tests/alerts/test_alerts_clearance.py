"""A spot seen clear: a patrol car passing an open case's place facing it, or a fixed camera watching its spot,
finds nothing of the case's category there and moves the case to the operator's check (real databases)."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from alerts.casebook import CaseBook
from alerts.cases import CaseService, Observation
from alerts.casework import Casework
from alerts.clearance import ClearWatch
from alerts.config import CaseSettings
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch.settings import CameraSettings
from gridwatch.types import Frame, GpsFix

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
AT = (34.7990, 113.6610)
M_PER_DEG = 111_195.0
PICTURE = np.full((360, 640, 3), 90, dtype=np.uint8)
CAR = CameraSettings(id="car-2", name="豫A 12345", url="rtsp://127.0.0.1:8554/car-2",  # type: ignore[arg-type]
                     vision={"mobile": True, "facing_deg": 0, "fov_deg": 90})
GATE = CameraSettings(id="gate", name="东门", url="rtsp://127.0.0.1:8554/gate")  # type: ignore[arg-type]
SPOT = (100.0, 100.0, 160.0, 220.0)


def _north(metres: float) -> tuple[float, float]:
    return AT[0] + metres / M_PER_DEG, AT[1]


@pytest.fixture()
def parts(repo: Repository, demo_features: list[GridFeature], tmp_path: Path) -> tuple[CaseService, ClearWatch,
                                                                                      CaseBook]:
    repo.replace_grids(demo_features)
    router = GridRouter(demo_features)
    settings = CaseSettings(clear_after_seconds=60, clear_range_m=40, clear_min_frames=3)
    service = CaseService(repo.engine, router, settings, fixed_camera=lambda cid: cid == "gate")
    watch = ClearWatch(repo.engine, service, tmp_path / "media", fixed_camera=lambda cid: cid == "gate",
                       refresh_s=0.0)
    return service, watch, CaseBook(repo.engine, router)


def _drive(watch: ClearWatch, start: datetime, heading: float, seen: list[tuple[str, tuple[float, ...]]]) -> list[str]:
    """The car drives from 80 m south of the place to 80 m north of it (heading 0) or back, 5 m per frame."""
    done: list[str] = []
    steps = list(range(-80, 85, 5))
    for i, m in enumerate(steps if heading == 0 else reversed(steps)):
        at = start + timedelta(seconds=0.5 * i)
        frame = Frame("car-2", i, at, PICTURE, GpsFix(*_north(m), at, heading=heading, speed=10.0))
        done += watch.observe(frame, seen, CAR)  # type: ignore[arg-type]
    return done


def test_a_patrol_pass_facing_the_place_that_sees_nothing_moves_the_case_to_the_check(
    parts: tuple[CaseService, ClearWatch, CaseBook], tmp_path: Path, repo: Repository
) -> None:
    service, watch, book = parts
    [seen] = service.ingest([Observation("0502", T0, *AT, camera_id="car-1", confidence=0.7, bbox=SPOT)])
    # Frames of the sighting's own pass (within cases.pass_gap_s of it) never count.
    assert _drive(watch, T0 + timedelta(seconds=30), 0.0, []) == []
    assert book.get(seen.case_id).status == "reported"
    done = _drive(watch, T0 + timedelta(hours=1), 0.0, [])
    assert done == [seen.case_id]
    case = book.get(seen.case_id)
    assert case.status == "handled" and case.seen_clear
    clear = [s for s in book.sightings(case.id) if s.kind == "clear"]
    assert len(clear) == 1 and clear[0].camera_id == "car-2" and clear[0].snapshot_url is not None
    assert (tmp_path / "media" / clear[0].snapshot_url.removeprefix("/media/")).stat().st_size > 1000
    # One key on the desk closes it; the timeline holds the sighting and the clear pass.
    Casework(repo.engine, service.router).close(case.id, Actor("王敏", Role.OPERATOR))
    assert [h.action for h in book.history(case.id)] == ["report", "seen_clear", "close"]


def test_a_pass_that_still_sees_the_problem_or_looks_away_records_nothing(
    parts: tuple[CaseService, ClearWatch, CaseBook]
) -> None:
    service, watch, book = parts
    [seen] = service.ingest([Observation("0502", T0, *AT, camera_id="car-1", confidence=0.7, bbox=SPOT)])
    assert _drive(watch, T0 + timedelta(hours=1), 0.0, [("0502", SPOT)]) == []  # still there
    assert _drive(watch, T0 + timedelta(hours=2), 0.0, [("0503", SPOT)]) == [seen.case_id]  # another kind only
    # A camera looking right, on a car driving north 15 m east of the place (on its left), never faces it.
    right = CAR.model_copy(update={"vision": CAR.vision.model_copy(update={"facing_deg": 90.0})})
    [other] = service.ingest([Observation("0502", T0, *_north(300), camera_id="car-1", confidence=0.7)])
    east = 15 / (M_PER_DEG * math.cos(math.radians(AT[0])))
    for i, m in enumerate(range(220, 385, 5)):
        at = T0 + timedelta(hours=3, seconds=0.5 * i)
        lat, lon = _north(m)
        watch.observe(Frame("car-2", i, at, PICTURE, GpsFix(lat, lon + east, at, heading=0.0)), [], right)
    assert book.get(other.case_id).status == "reported"
    assert [s.kind for s in book.sightings(seen.case_id)] == ["seen", "clear"]


def test_a_fixed_camera_that_has_not_seen_the_problem_for_clear_after_seconds_sees_it_clear(
    parts: tuple[CaseService, ClearWatch, CaseBook]
) -> None:
    service, watch, book = parts
    [seen] = service.ingest([Observation("0503", T0, None, None, camera_id="gate", confidence=0.8, bbox=SPOT,
                                         fixed=True)])
    recorded: list[tuple[int, list[str]]] = []
    for i in range(0, 30):  # a frame every 10 s for 5 minutes
        at = T0 + timedelta(seconds=10 * i)
        there = [("0503", SPOT)] if i < 6 else [("0503", (500.0, 100.0, 560.0, 220.0))]  # elsewhere after 1 min
        done = watch.observe(Frame("gate", i, at, PICTURE), there, GATE)
        if done:
            recorded.append((i, done))
    # Last seen at its spot at 50 s; clear 60 s later (110 s, frame 11), and only once.
    assert recorded == [(11, [seen.case_id])]
    case = book.get(seen.case_id)
    assert case.status == "handled" and case.seen_clear
    assert [s.kind for s in book.sightings(case.id)] == ["seen", "clear"]
