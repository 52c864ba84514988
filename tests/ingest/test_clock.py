"""StreamClock: a frame's capture time from its stream timestamp, honest through network bursts."""
from __future__ import annotations

import pytest

from ingest.clock import RESET_AFTER_S, StreamClock


def test_capture_times_follow_the_stream_not_the_bursty_arrivals() -> None:
    clock = StreamClock(window_s=10)
    t0 = 1_000_000.0
    # 2 s of 25 fps video arriving on time, with 20-60 ms of network jitter.
    for i in range(50):
        wall = clock.observe(i / 25, t0 + i / 25 + 0.02 + 0.04 * (i % 3) / 2)
        assert wall <= t0 + i / 25 + 0.061
    # Then the network stalls for 1.5 s and delivers the next 1.5 s of video at once.
    burst_arrival = t0 + 2 + 1.5
    walls = [clock.observe((50 + i) / 25, burst_arrival + i * 0.001) for i in range(38)]
    # Every frame of the burst keeps the time it was filmed (to within the fastest delivery seen), so the
    # oldest ones are recognisably 1.5 s old although they arrived just now.
    for i, wall in enumerate(walls):
        assert wall == pytest.approx(t0 + (50 + i) / 25 + 0.02, abs=0.001)
    assert burst_arrival - walls[0] > 1.4
    assert clock.offset == pytest.approx(t0 + 0.02)
    assert clock.wall(4.0) == pytest.approx(t0 + 4.02)


def test_a_slower_route_is_adopted_after_the_window_and_a_clock_jump_resets() -> None:
    clock = StreamClock(window_s=10)
    t0 = 5_000.0
    for i in range(0, 250):  # 10 s at 20 ms delay
        clock.observe(i / 25, t0 + i / 25 + 0.02)
    for i in range(250, 600):  # then 14 s at 300 ms: after 10 s that is simply the delay
        clock.observe(i / 25, t0 + i / 25 + 0.3)
    assert clock.offset == pytest.approx(t0 + 0.3)
    # The camera restarts inside the connection: its timestamps start again from 0.
    wall = clock.observe(0.0, t0 + 30.0)
    assert abs((t0 + 30.0) - (t0 + 0.3)) > RESET_AFTER_S - 1
    assert wall == pytest.approx(t0 + 30.0)
    assert StreamClock().wall(1.0) is None
