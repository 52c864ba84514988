"""Frames per model input follow the load: more when frames are missed, back to full size when there is room."""
from __future__ import annotations

from vision.load_control import StackController, missed_frames


def feed(ctl: StackController, start: float, seconds: float, missed: int, busy: float,
         step: float = 0.25) -> float:
    """Batches every ``step`` s for ``seconds``: 4 frames each, ``missed`` missed each, busy for ``busy`` of it."""
    t = start
    while t < start + seconds - 1e-9:
        t += step
        ctl.observe(t, processed=4, missed=missed, busy_s=busy * step)
    return t


def test_frames_are_stacked_more_while_frames_are_missed_and_never_past_the_setting() -> None:
    ctl = StackController.up_to(6)
    assert ctl.frames_per_input == 1  # full size to begin with
    t = feed(ctl, 0.0, 2.0, missed=2, busy=1.0)
    assert ctl.frames_per_input == 2
    t = feed(ctl, t, 2.0, missed=2, busy=1.0)
    t = feed(ctl, t, 2.0, missed=2, busy=1.0)
    assert ctl.frames_per_input == 6
    feed(ctl, t, 10.0, missed=2, busy=1.0)
    assert ctl.frames_per_input == 6  # the most there is
    capped = StackController.up_to(2)
    feed(capped, 0.0, 10.0, missed=2, busy=1.0)
    assert capped.allowed == (1, 2) and capped.frames_per_input == 2
    never = StackController.up_to(1)
    feed(never, 0.0, 10.0, missed=4, busy=1.0)
    assert never.frames_per_input == 1


def test_a_rare_miss_is_tolerated() -> None:
    ctl = StackController.up_to(6)
    t = 0.0
    for _ in range(20):  # one frame missed in every 2 s window of 32 frames: 3 %
        t = feed(ctl, t, 1.75, missed=0, busy=0.9)
        t = feed(ctl, t, 0.25, missed=1, busy=0.9)
    assert ctl.frames_per_input == 1


def test_back_to_full_size_once_calm_with_room_but_not_while_busy() -> None:
    ctl = StackController.up_to(6)
    t = feed(ctl, 0.0, 6.0, missed=3, busy=1.0)
    assert ctl.frames_per_input == 6
    # Keeping up, but busy 60 % of the time: twice that at 3 frames per input would miss frames again.
    t = feed(ctl, t, 30.0, missed=0, busy=0.6)
    assert ctl.frames_per_input == 6
    # The load drops (cameras went away): one step down per calm period, not all at once.
    t = feed(ctl, t, 9.0, missed=0, busy=0.1)
    assert ctl.frames_per_input == 3
    t = feed(ctl, t, 11.0, missed=0, busy=0.1)
    assert ctl.frames_per_input == 2
    feed(ctl, t, 11.0, missed=0, busy=0.1)
    assert ctl.frames_per_input == 1


def test_missed_frames_are_the_gaps_in_each_cameras_handed_over_frames() -> None:
    assert missed_frames([4, 10, -1], [5, 13, 7]) == 2  # 11 and 12 never analysed; a new camera counts none
    assert missed_frames([], []) == 0
