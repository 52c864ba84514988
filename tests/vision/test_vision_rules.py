"""The dwell rule on hand-built tracked frames and a hand-set clock (5 frames a second)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridwatch.settings import RulesSettings
from gridwatch.types import Detections, Frame, GpsFix, IssueEvent, Phase, TrackedFrame
from vision.rules import DwellState, dwell_rule

T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=0.2)
RULES = RulesSettings()  # dwell 3 s, category 0502, persons at least 40 px tall
CAMERA = "car-7"
FIX = GpsFix(lat=34.75, lon=113.66, time=T0)
PERSON_BOX = [100.0, 50.0, 140.0, 170.0]  # 120 px tall

# An object in a frame: (track id, class name, xyxy, confidence)
Obj = tuple[int, str, Sequence[float], float]


def tracked_frame(seq: int, objs: Sequence[Obj], camera: str = CAMERA) -> TrackedFrame:
    image = np.full((240, 320, 3), seq % 256, dtype=np.uint8)
    frame = Frame(camera_id=camera, seq=seq, captured_at=T0 + seq * STEP, image=image, fix=FIX)
    dets = Detections.from_lists(
        xyxy=[list(o[2]) for o in objs],
        confidence=[o[3] for o in objs],
        class_name=[o[1] for o in objs],
        track_id=[o[0] for o in objs],
    )
    return TrackedFrame(frame=frame, detections=dets)


def run(scene: Sequence[Sequence[Obj]], state: DwellState | None = None) -> tuple[DwellState, list[list[IssueEvent]]]:
    """Feed one frame per step; returns the final state and the events each frame produced."""
    state = state or DwellState()
    per_frame = []
    for seq, objs in enumerate(scene):
        state, events = dwell_rule(state, tracked_frame(seq, objs), T0 + seq * STEP, RULES)
        per_frame.append(events)
    return state, per_frame


def person(track_id: int = 1, box: Sequence[float] = PERSON_BOX, conf: float = 0.8) -> Obj:
    return (track_id, "person", box, conf)


def seconds(s: float) -> int:
    return round(s / STEP.total_seconds())


def test_person_in_view_three_seconds_raises_exactly_one_event() -> None:
    scene = [[person(conf=0.6 + 0.01 * i)] for i in range(seconds(3) + 1)]  # t = 0.0 .. 3.0 s
    _, per_frame = run(scene)
    assert [len(e) for e in per_frame[:-1]] == [0] * seconds(3)
    (event,) = per_frame[-1]
    now = T0 + seconds(3) * STEP
    assert event.phase == Phase.NEW
    assert event.category == RULES.dwell_category
    assert event.camera_id == CAMERA and event.track_id == 1
    assert event.first_seen == T0 and event.last_seen == now
    assert event.confidence == pytest.approx(0.6 + 0.01 * seconds(3))  # the best confidence seen
    assert event.bbox == tuple(PERSON_BOX)
    assert event.fix == FIX
    assert event.snapshot is not None and int(event.snapshot[0, 0, 0]) == seconds(3)  # the deciding frame
    assert len(event.event_id) == 32 and int(event.event_id, 16) >= 0


def test_same_track_staying_longer_raises_no_more_events() -> None:
    _, per_frame = run([[person()] for _ in range(seconds(10))])
    assert sum(len(e) for e in per_frame) == 1


def test_person_leaving_after_one_second_raises_nothing() -> None:
    scene = [[person()] for _ in range(seconds(1))] + [[] for _ in range(seconds(5))]
    _, per_frame = run(scene)
    assert sum(len(e) for e in per_frame) == 0


def test_two_people_raise_two_events() -> None:
    other = [300.0, 40.0, 340.0, 150.0]
    _, per_frame = run([[person(1), person(2, other)] for _ in range(seconds(4))])
    events = [e for frame in per_frame for e in frame]
    assert sorted(e.track_id for e in events) == [1, 2]
    assert len({e.event_id for e in events}) == 2
    assert {e.bbox for e in events} == {tuple(PERSON_BOX), tuple(other)}


def test_small_person_raises_nothing() -> None:
    tiny = [100.0, 50.0, 110.0, 80.0]  # 30 px tall, below the 40 px minimum
    _, per_frame = run([[person(box=tiny)] for _ in range(seconds(5))])
    assert sum(len(e) for e in per_frame) == 0


def test_other_classes_raise_nothing() -> None:
    _, per_frame = run([[(1, "car", PERSON_BOX, 0.9), (2, "dog", PERSON_BOX, 0.9)] for _ in range(seconds(5))])
    assert sum(len(e) for e in per_frame) == 0


def test_untracked_person_raises_nothing() -> None:
    _, per_frame = run([[person(track_id=-1)] for _ in range(seconds(5))])
    assert sum(len(e) for e in per_frame) == 0


def test_short_gap_does_not_break_the_stay() -> None:
    # Seen 0-1.8 s, missed for 1 s (occlusion), seen again: still 3 s of stay at t = 3 s.
    scene = [[person()] for _ in range(seconds(1.8))] + [[] for _ in range(seconds(1))]
    scene += [[person()] for _ in range(seconds(1))]
    _, per_frame = run(scene)
    events = [(i, e) for i, frame in enumerate(per_frame) for e in frame]
    assert [i for i, _ in events] == [seconds(3)]
    assert events[0][1].first_seen == T0


def test_long_gap_restarts_the_stay() -> None:
    # Seen 0-2 s, gone 2 s, back from 4 s: the stay restarts, so the event comes at 7 s, not at 4 s.
    scene = [[person()] for _ in range(seconds(2))] + [[] for _ in range(seconds(2))]
    scene += [[person()] for _ in range(seconds(3.4))]
    _, per_frame = run(scene)
    events = [(i, e) for i, frame in enumerate(per_frame) for e in frame]
    assert [i for i, _ in events] == [seconds(7)]
    assert events[0][1].first_seen == T0 + seconds(4) * STEP


def test_reported_track_returning_is_not_reported_again() -> None:
    scene = [[person()] for _ in range(seconds(4))] + [[] for _ in range(seconds(3))]
    scene += [[person()] for _ in range(seconds(5))]
    _, per_frame = run(scene)
    assert sum(len(e) for e in per_frame) == 1


def test_long_gone_tracks_are_forgotten() -> None:
    state, _ = run([[person(1)] for _ in range(seconds(1))])
    assert 1 in state.tracks
    later = T0 + timedelta(minutes=5)
    state, events = dwell_rule(state, tracked_frame(0, [person(2)]), later, RULES)
    assert set(state.tracks) == {2} and events == []


def test_a_state_belongs_to_one_camera() -> None:
    state, _ = run([[person()]])
    with pytest.raises(ValueError, match="car-7"):
        dwell_rule(state, tracked_frame(1, [person()], camera="car-8"), T0 + STEP, RULES)


def test_dwell_time_follows_the_settings() -> None:
    quick = RulesSettings(dwell_seconds=1.0, min_box_height=10.0)
    state = DwellState()
    fired_at = None
    for seq in range(seconds(2)):
        state, events = dwell_rule(state, tracked_frame(seq, [person()]), T0 + seq * STEP, quick)
        if events and fired_at is None:
            fired_at = seq
    assert fired_at == seconds(1)
