"""Simulated GPS: the demo car drives a closed loop inside the demo grid map, smoothly, for ever."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from geo.routes import ROUTES, SimulatedRoute, fixed_position, gps_source_for, route
from gridwatch.types import GpsFix
from tests.ingest.conftest import ROUTE_BOX, camera

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def metres(a: GpsFix, b: GpsFix) -> float:
    lat0 = math.radians((a.lat + b.lat) / 2)
    east = math.radians(b.lon - a.lon) * math.cos(lat0) * 6_371_008.8
    north = math.radians(b.lat - a.lat) * 6_371_008.8
    return math.hypot(east, north)


def test_demo_route_is_a_continuous_loop_inside_the_grid_map() -> None:
    car = route("jinshui-demo", start=T0)
    lat_min, lat_max, lon_min, lon_max = ROUTE_BOX
    step = 0.5
    fixes = [car.fix_at(T0 + timedelta(seconds=i * step)) for i in range(int(car.lap_seconds / step) + 20)]
    for fix in fixes:
        assert lat_min <= fix.lat <= lat_max and lon_min <= fix.lon <= lon_max, fix
        assert fix.speed == 8.0 and fix.heading is not None and 0 <= fix.heading < 360
    # Continuous: never further apart than the car can drive between two fixes (corners cut slightly).
    for a, b in zip(fixes, fixes[1:], strict=False):
        assert metres(a, b) <= 8.0 * step + 0.01
    # It really drives: a lap of several kilometres that visits a good part of the map.
    assert car.length_m > 3000
    assert max(f.lat for f in fixes) - min(f.lat for f in fixes) > 0.01
    assert max(f.lon for f in fixes) - min(f.lon for f in fixes) > 0.01


def test_route_loops_back_to_its_start_and_turns_at_corners() -> None:
    car = route("jinshui-demo", speed_mps=10.0, start=T0)
    start, after_lap = car.fix_at(T0), car.fix_at(T0 + timedelta(seconds=car.lap_seconds))
    assert (after_lap.lat, after_lap.lon) == pytest.approx((start.lat, start.lon), abs=1e-9)
    assert start.time == T0 and start.speed == 10.0
    headings = {round(car.fix_at(T0 + timedelta(seconds=s)).heading or 0) for s in range(0, int(car.lap_seconds), 5)}
    assert {0, 90, 180, 270} <= headings  # north, east, south and west legs of the loop


def test_fixes_before_start_are_on_the_loop_too() -> None:
    car = SimulatedRoute([(34.78, 113.68), (34.79, 113.68)], speed_mps=5.0, start=T0)
    before = car.fix_at(T0 - timedelta(seconds=10))
    assert 34.78 <= before.lat <= 34.79 and before.lon == pytest.approx(113.68)
    assert before.heading == pytest.approx(180.0)  # 10 s before start it is driving back to the start
    assert before.time == T0 - timedelta(seconds=10)


def test_route_is_a_gps_source_and_settings_pick_the_source() -> None:
    car = route("jinshui-demo", start=T0)
    assert car(T0) == car.fix_at(T0)
    routed = gps_source_for(camera("rtsp://127.0.0.1:1/x", gps_route="jinshui-demo"))
    assert routed is not None and routed(T0) is not None
    pole = gps_source_for(camera("rtsp://127.0.0.1:1/x", lat=34.78, lon=113.69))
    assert pole is not None
    fix = pole(T0)
    assert fix is not None and (fix.lat, fix.lon, fix.speed) == (34.78, 113.69, 0.0)
    assert gps_source_for(camera("rtsp://127.0.0.1:1/x")) is None
    assert fixed_position(1.0, 2.0)(T0) is not None


def test_unknown_route_names_the_known_ones() -> None:
    with pytest.raises(KeyError) as err:
        route("nowhere")
    for name in ROUTES:
        assert name in str(err.value)


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route("jinshui-demo").fix_at(datetime(2026, 1, 1, 8, 0))
    with pytest.raises(ValueError, match="at least 2 points"):
        SimulatedRoute([(34.78, 113.68)])
    with pytest.raises(ValueError, match="speed"):
        SimulatedRoute([(34.78, 113.68), (34.79, 113.68)], speed_mps=0)
