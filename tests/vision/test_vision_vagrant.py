"""The vagrant rule on hand-built tracked frames: posture confirmed over frames, dwell in a zone (fixed
camera), K frames at one place (patrol car), one issue per person with new / update / end phases."""
from __future__ import annotations

from collections.abc import Sequence

import pytest
from shapely.geometry import MultiPolygon, Polygon
from shapely.prepared import prep

from gridwatch.settings import RulesSettings
from gridwatch.types import GpsFix, IssueEvent, Phase
from tests.vision.rule_helpers import (
    SITTING_BOX,
    STANDING_BOX,
    Obj,
    at,
    fix_at,
    moved,
    person,
    seconds,
    tracked_frame,
)
from vision.vagrant import VagrantState, finish_vagrant, vagrant_rule
from vision.zones import CameraView

RULES = RulesSettings(vagrant_dwell_seconds=3.0, end_after_seconds=2.0, update_every_seconds=1.0)
FIXED = CameraView(camera_id="cam-1")
PATROL = CameraView(camera_id="cam-1", mobile=True)


def run(scene: Sequence[Sequence[Obj]], view: CameraView = FIXED, rules: RulesSettings = RULES,
        fixes: Sequence[GpsFix | None] | None = None) -> tuple[VagrantState, list[list[IssueEvent]]]:
    state = VagrantState.for_view(view)
    per_frame = []
    for seq, objs in enumerate(scene):
        fix = fixes[seq] if fixes is not None else None
        state, events = vagrant_rule(state, tracked_frame(seq, objs, fix=fix), at(seq), rules)
        per_frame.append(events)
    return state, per_frame


def news(per_frame: list[list[IssueEvent]]) -> list[tuple[int, IssueEvent]]:
    return [(i, e) for i, frame in enumerate(per_frame) for e in frame if e.phase is Phase.NEW]


def test_sitting_person_in_fixed_view_alerts_once_after_the_dwell() -> None:
    state, per_frame = run([[person()] for _ in range(seconds(8))])
    ((when, event),) = news(per_frame)
    # Posture confirmed on the 3rd frame (3 of 5), then 3 s of dwell.
    assert when == 2 + seconds(3)
    assert event.category == "0502" and event.track_id == 1 and event.camera_id == "cam-1"
    assert event.first_seen == at(2) and event.last_seen == at(when)
    assert event.bbox == SITTING_BOX
    assert len(state.issues) == 1


def test_standing_or_walking_people_never_alert() -> None:
    standing = [[person(1, STANDING_BOX)] for _ in range(seconds(20))]
    assert news(run(standing)[1]) == []
    # A squat box (someone pushing a pram) crossing the view is not sitting: it moves.
    walking = [[person(2, moved(SITTING_BOX, dx=-250 + 8 * i))] for i in range(seconds(10))]
    assert news(run(walking)[1]) == []


def test_posture_must_be_confirmed_over_several_frames() -> None:
    # Only every third frame looks sitting: 2 of any 5 frames, never the 3 needed.
    scene = [[person(1, SITTING_BOX if i % 3 == 0 else STANDING_BOX)] for i in range(seconds(10))]
    assert news(run(scene)[1]) == []


def test_zone_limits_where_a_sitter_counts() -> None:
    # Zone: the left half of the picture. The sitter's feet are at x 330 of 640, i.e. in the right half.
    left = prep(MultiPolygon([Polygon([(0, 0), (0.5, 0), (0.5, 1), (0, 1)])]))
    right_view = CameraView(camera_id="cam-1", vagrant_zones=left)
    scene = [[person()] for _ in range(seconds(8))]
    assert news(run(scene, right_view)[1]) == []
    inside = [[person(1, moved(SITTING_BOX, dx=-200))] for _ in range(seconds(8))]
    assert len(news(run(inside, right_view)[1])) == 1


def test_per_camera_dwell_overrides_the_global_one() -> None:
    quick = CameraView(camera_id="cam-1", vagrant_dwell_seconds=1.0)
    ((when, _),) = news(run([[person()] for _ in range(seconds(8))], quick)[1])
    assert when == 2 + seconds(1)


def test_patrol_car_needs_k_frames_at_one_place() -> None:
    place = [fix_at(34.7800, 113.6800, i) for i in range(8)]
    ((when, event),) = news(run([[person()] for _ in range(8)], PATROL, fixes=place)[1])
    # Posture confirmed on frame 2; the 5 sitting frames at one place (0-4) include those before it, so a
    # car that passes quickly, or a loaded worker that sees few frames of it, still raises the alert.
    assert when == RULES.patrol_min_frames - 1 == 4
    assert event.fix == place[0] or event.fix in place


def test_patrol_sightings_far_apart_are_not_one_place() -> None:
    # The same track id, but the car moves ~55 m between frames (e.g. a tracker mix-up at speed).
    far = [fix_at(34.7800 + 0.0005 * i, 113.6800, i) for i in range(10)]
    assert news(run([[person()] for _ in range(10)], PATROL, fixes=far)[1]) == []


def test_a_re_found_track_at_the_same_place_joins_the_open_issue() -> None:
    place = [fix_at(34.7800, 113.6800, i) for i in range(20)]
    # Track 1 confirmed, then lost; the tracker gives the same person id 7 a moment later.
    scene = [[person(1)] for _ in range(8)] + [[person(7, moved(SITTING_BOX, 40))] for _ in range(12)]
    state, per_frame = run(scene, PATROL, fixes=place)
    assert len(news(per_frame)) == 1
    (issue,) = state.issues.values()
    assert issue.last_seen == at(19)


def test_phases_update_with_a_better_view_then_end() -> None:
    # Sitting 4 s, seen bigger and surer later (the car comes closer), then gone.
    small, big = SITTING_BOX, (280.0, 180.0, 400.0, 340.0)
    scene = [[person(1, small, 0.6)] for _ in range(seconds(6))]
    scene += [[person(1, big, 0.9)] for _ in range(seconds(2))]
    scene += [[] for _ in range(seconds(3))]
    _, per_frame = run(scene)
    phases = [(i, e.phase) for i, frame in enumerate(per_frame) for e in frame]
    assert [p for _, p in phases] == [Phase.NEW, Phase.UPDATE, Phase.END]
    events = {e.phase: e for frame in per_frame for e in frame}
    assert len({e.event_id for e in events.values()}) == 1
    assert events[Phase.NEW].bbox == small
    # The best snapshot is the largest, most confident view, taken from the frame that showed it.
    assert events[Phase.END].bbox == big and events[Phase.END].confidence == pytest.approx(0.9)
    end_snapshot = events[Phase.END].snapshot
    assert end_snapshot is not None and int(end_snapshot[0, 0, 0]) >= seconds(6)
    assert events[Phase.END].last_seen == at(seconds(8) - 1)


def test_finish_ends_open_issues() -> None:
    state, _ = run([[person()] for _ in range(seconds(6))])
    state, events = finish_vagrant(state)
    assert [e.phase for e in events] == [Phase.END] and not state.issues


def test_a_state_belongs_to_one_camera() -> None:
    state = VagrantState.for_view(FIXED)
    with pytest.raises(ValueError, match="cam-2"):
        vagrant_rule(state, tracked_frame(0, [person()], camera="cam-2"), at(0), RULES)


def test_lying_only_setting_ignores_sitters() -> None:
    lying_only = RULES.model_copy(update={"vagrant_postures": ("lying",)})
    assert news(run([[person()] for _ in range(seconds(8))], rules=lying_only)[1]) == []
    lying_box = (200.0, 250.0, 360.0, 300.0)
    assert len(news(run([[person(1, lying_box)] for _ in range(seconds(8))], rules=lying_only)[1])) == 1
