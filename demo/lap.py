"""The demo car's lap: one schedule that both its GPS route and its video timeline are made from.

The demo car drives a block loop in the demo grid map and passes the park at the same place every lap: ordinary
street footage while it drives, the park drive-by while it passes the park, slowly, on the leg ``PARK_LEG``. The
lap clip (street footage + drive-by, ``demo.driveby.write_lap_clip``) is exactly one lap long, the RTSP server
plays it aligned to the wall clock from ``ROUTE_EPOCH`` (``demo.rtsp_server --epoch``), and the route below is
timed from the same frames: whenever the camera shows the park, the car's GPS is on the park leg, so every pass's
sightings land within a few metres of each other and join one case.

Leg times follow the clip's frame grid (a lap is a whole number of frames), so the two never drift apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from geo.routes import ROUTE_EPOCH, SimulatedRoute

# A 1.6 km block loop (WGS-84 lat, lon) straddling four level-3 grids of the demo map, driven clockwise from its
# south-west corner. The park lies on the north street, inside grid 410105001001003.
PARK_LOOP: tuple[tuple[float, float], ...] = (
    (34.7835, 113.6725),  # south-west corner, heading north
    (34.7865, 113.6725),  # north-west corner, turn east
    (34.7865, 113.6745),  # the park begins (on the right): the car slows down
    (34.7865, 113.6747),  # the park ends (18 m later): speed up again
    (34.7865, 113.6775),  # north-east corner, turn south
    (34.7835, 113.6775),  # south-east corner, turn west back to the start
)
PARK_LEG = 2  # PARK_LOOP[2] -> PARK_LOOP[3]
MIN_STREET_SECONDS = 4.0  # street footage on each side of the pass, at the least


@dataclass(frozen=True)
class DemoLap:
    """One lap of ``frames`` frames at ``fps``; the drive-by fills frames ``pass_start`` .. ``pass_end - 1``."""

    route: SimulatedRoute
    fps: int
    frames: int
    pass_start: int
    pass_frames: int

    @property
    def pass_end(self) -> int:
        return self.pass_start + self.pass_frames

    @property
    def lap_seconds(self) -> float:
        return self.frames / self.fps

    def passing_park(self, t: datetime) -> bool:
        """True while the clip shows the park at wall time ``t``."""
        frame = math.floor(self.route.lap_offset(t) * self.fps + 1e-9)
        return self.pass_start <= frame < self.pass_end


def make_lap(lap_seconds: float, fps: int, pass_frames: int, start: datetime = ROUTE_EPOCH) -> DemoLap:
    """The lap of ``lap_seconds`` (rounded to whole frames) whose park pass lasts ``pass_frames`` frames.

    The street legs share the rest of the lap in proportion to their lengths; the pass starts on the frame where
    the car reaches the park. ValueError when the lap leaves less than ``MIN_STREET_SECONDS`` of street footage
    on either side of the pass.
    """
    if fps <= 0 or pass_frames <= 0:
        raise ValueError(f"fps and pass_frames must be positive, got {fps} and {pass_frames}")
    frames = round(lap_seconds * fps)
    lengths = SimulatedRoute(list(PARK_LOOP)).leg_lengths_m
    before, after = sum(lengths[:PARK_LEG]), sum(lengths[PARK_LEG + 1:])
    street = frames - pass_frames
    pass_start = round(street * before / (before + after))
    shortest = min(pass_start, street - pass_start) / fps
    if shortest < MIN_STREET_SECONDS:
        raise ValueError(
            f"a demo lap of {lap_seconds:g} s leaves {shortest:.1f} s of street footage beside the "
            f"{pass_frames / fps:g} s pass; make it at least {pass_frames / fps + 3 * MIN_STREET_SECONDS:g} s"
        )
    seconds = []
    for n, length in enumerate(lengths):
        if n < PARK_LEG:
            seconds.append(pass_start / fps * length / before)
        elif n == PARK_LEG:
            seconds.append(pass_frames / fps)
        else:
            seconds.append((street - pass_start) / fps * length / after)
    route = SimulatedRoute(list(PARK_LOOP), start=start, leg_seconds=seconds)
    return DemoLap(route=route, fps=fps, frames=frames, pass_start=pass_start, pass_frames=pass_frames)
