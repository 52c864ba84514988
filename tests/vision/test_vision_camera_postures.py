"""A camera's own vagrant postures (cameras[].vision.vagrant_postures) decide over rules.vagrant_postures for it:
the demo car opts into "seated" while every other camera keeps the global rule."""
from __future__ import annotations

from gridwatch.settings import RulesSettings
from gridwatch.types import Phase
from tests.vision.rule_helpers import at, person, seconds, tracked_frame
from vision.vagrant import VagrantState, vagrant_rule
from vision.zones import CameraView

RULES = RulesSettings(vagrant_dwell_seconds=3.0)  # global: lying and sitting on the ground


def new_issues(view: CameraView) -> int:
    state, count = VagrantState.for_view(view), 0
    for seq in range(seconds(8)):
        state, events = vagrant_rule(state, tracked_frame(seq, [person()]), at(seq), RULES)
        count += sum(e.phase is Phase.NEW for e in events)
    return count


def test_a_cameras_postures_override_the_global_ones() -> None:
    assert new_issues(CameraView(camera_id="cam-1")) == 1  # a ground sitter, by the global rule
    assert new_issues(CameraView(camera_id="cam-1", vagrant_postures=("lying",))) == 0  # this camera: lying only
