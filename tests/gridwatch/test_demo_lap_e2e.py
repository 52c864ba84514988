"""The demo behaves like a street: ``gridwatch run``'s demo car laps its block loop, passes the park at the same
place every lap, and the same sitters make ONE case whose passes grow lap by lap (not a new case per loop).

Real parts throughout (the command's own redis-server, GStreamer RTSP server, the shared OpenVINO YOLO weights,
SQLite). The lap is shortened to 40 s (8 s of it the park drive-by) and ``cases.pass_gap_s`` to 10 s, so three laps
take two minutes; waits are on conditions, with twice the time the laps need.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.lap import PARK_LEG, PARK_LOOP
from gridwatch.redis_server import free_port
from tests.gridwatch.run_testing import LOADED_MACHINE_VISION, Running, start_gridwatch, stop_gridwatch

LAP_S = 40
LAPS = 3
PASS_GAP_S = 10


@pytest.fixture(scope="module")
def lapping_demo(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("demo-lap")
    cfg = tmp / "gridwatch.toml"
    cfg.write_text(
        f"""
data_dir = "{tmp / 'data'}"

[ingest]
telemetry_ws_port = 0

[dashboard]
port = {free_port()}
ws_port = 0
live_port = 0
{LOADED_MACHINE_VISION}
[demo]
rtsp_port = 0
lap_seconds = {LAP_S}
street_video = "{shared_dir / 'video' / 'dashcam_highway_640x360.mp4'}"

[cases]
pass_gap_s = {PASS_GAP_S}
""",
        encoding="utf-8",
    )
    running = start_gridwatch(cfg, tmp / "data", "e2e-admin-password", ready_timeout=300)
    yield running
    stop_gridwatch(running)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = math.radians(b[0] - a[0]) * 6_371_008.8
    east = math.radians(b[1] - a[1]) * math.cos(math.radians(a[0])) * 6_371_008.8
    return math.hypot(north, east)


@pytest.mark.timeout(300 + 2 * (LAPS + 1) * LAP_S + 120)
def test_each_lap_is_a_new_pass_of_one_case(lapping_demo: Running) -> None:
    """Whatever the rules find at the park (the people there sit on walls and chairs by tents and umbrellas), each
    problem is one case at the park that every lap adds a pass to, and the street between passes adds nothing."""
    from alerts.casebook import CaseBook, CaseFilter
    from alerts.db import make_engine
    from alerts.repository import Repository
    from geo.routing import GridRouter

    engine = make_engine(f"sqlite:///{lapping_demo.data_dir / 'gridwatch.db'}")
    try:
        book = CaseBook(engine, GridRouter(Repository(engine).list_grids()))
        # LAPS passes plus a first lap that may start just after the park, twice over.
        deadline = time.monotonic() + 2 * (LAPS + 1) * LAP_S
        cases = []
        while time.monotonic() < deadline:
            cases = book.queue(CaseFilter(limit=100))
            if any(c.passes >= LAPS for c in cases):
                break
            time.sleep(1)
        else:
            pytest.fail(f"no case with {LAPS} passes; cases: "
                        f"{[(c.category, c.sightings, c.passes) for c in cases]}\n" + "".join(lapping_demo.lines[-30:]))
        assert lapping_demo.proc.poll() is None, "gridwatch run stopped"
        cases = book.queue(CaseFilter(limit=100))
        categories = [c.category for c in cases]
        assert len(categories) == len(set(categories)), f"one case per problem at the park: {categories}"
        park = PARK_LOOP[PARK_LEG]
        for case in cases:
            assert case.lat is not None and case.lon is not None
            assert _metres(park, (case.lat, case.lon)) < 25, f"case {case.category} lies off the park"
            assert case.sightings >= case.passes
    finally:
        engine.dispose()
