"""Vehicles in the command centre: coverage over a track (pure), and the fleet's state in a real Redis."""
from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import redis

from fleet.coverage import TrackPoint, cell_center, cell_of, covered_cells, covered_grids, polylines, track_length_m
from fleet.telemetry import TelemetryIngest
from fleet.vehicles import Fleet, FleetTelemetryStore, LinkState, link_state, vehicles_for_wall
from geo.distance import EARTH_RADIUS_M
from geo.grids import GridFeature, GridIndex
from geo.routing import GridRouter
from gridwatch.settings import FleetSettings, load_settings
from gridwatch.types import GpsFix

LAT0, LON0 = 34.770, 113.660
M_LAT = math.pi * EARTH_RADIUS_M / 180
M_LON = M_LAT * math.cos(math.radians(LAT0))
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC).timestamp()  # 10:00 in Zhengzhou


def east(metres: float, t: float, north: float = 0.0) -> TrackPoint:
    """A point ``metres`` east (and ``north``) of (LAT0, LON0) at ``T0 + t``."""
    return TrackPoint(T0 + t, LAT0 + north / M_LAT, LON0 + metres / M_LON)


def square(code: str, west_m: float, width_m: float) -> GridFeature:
    """A level-3 grid: a square strip of the street from ``west_m`` to ``west_m + width_m`` east of LON0."""
    x1, x2 = LON0 + west_m / M_LON, LON0 + (west_m + width_m) / M_LON
    y1, y2 = LAT0 - 200 / M_LAT, LAT0 + 200 / M_LAT
    ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
    return GridFeature(code, f"grid {code}", 3, None, None, {"type": "Polygon", "coordinates": [ring]})


GRIDS = [square("G1", -100, 300), square("G2", 200, 300), square("G3", 500, 300)]


def test_a_street_cell_is_fifty_metres_square_on_the_ground() -> None:
    here = cell_of(LAT0, LON0, 50)
    lat, lon = cell_center(here, 50)
    assert cell_of(lat, lon, 50) == here
    north = cell_of(lat + 50 / M_LAT, lon, 50)
    east_cell = cell_of(lat, lon + 50 / M_LON, 50)
    assert north != here and east_cell != here
    n_lat, n_lon = cell_center(north, 50)
    e_lat, e_lon = cell_center(east_cell, 50)
    assert abs((n_lat - lat) * M_LAT - 50) < 0.5
    assert abs((e_lon - lon) * M_LON - 50) < 1.0  # columns are as wide as rows are tall


def test_street_coverage_follows_the_line_between_fixes_but_not_across_a_long_gap() -> None:
    # 500 m east in two fixes 40 s apart: every 50 m cell along the street is covered, in driving order.
    cells = covered_cells([east(0, 0), east(500, 40)], cell_m=50, max_gap_s=60)
    assert 10 <= len(cells) <= 12
    in_order = sorted(cells, key=cells.__getitem__)
    lons = [cell_center(c, 50)[1] for c in in_order]
    assert lons == sorted(lons)
    # The same two fixes 10 minutes apart: the car may have gone anywhere, only the two places count.
    assert len(covered_cells([east(0, 0), east(500, 600)], cell_m=50, max_gap_s=60)) == 2
    # A backlog arriving out of order covers the same street at the times the fixes were taken.
    assert covered_cells([east(500, 40), east(0, 0)], 50, 60) == cells


def test_grid_coverage_names_each_grid_the_car_passed_with_the_first_time() -> None:
    index = GridIndex(GRIDS)
    track = [east(0, 0), east(700, 50), east(0, 100)]  # there and back again through G1, G2, G3
    first = covered_grids(track, index, step_m=25, max_gap_s=60)
    assert sorted(first) == ["G1", "G2", "G3"]
    assert first["G1"] == T0 and first["G1"] < first["G2"] < first["G3"] <= T0 + 50
    # With the middle fix missing for longer than the gap, the grid only driven through in between is not covered.
    assert sorted(covered_grids([east(0, 0), east(700, 600)], index, 25, 60)) == ["G1", "G3"]


def test_polylines_break_at_gaps_and_distance_counts_only_what_was_driven() -> None:
    track = [east(0, 0), east(100, 10), east(200, 20), east(900, 900), east(1000, 910)]
    pieces = polylines(track, max_gap_s=60)
    assert [len(p) for p in pieces] == [3, 2]
    assert pieces[0][0] == [LAT0, LON0]
    assert abs(track_length_m(track, 60) - 300) < 1


def test_link_is_online_within_the_timeout_and_offline_since_the_last_contact() -> None:
    assert link_state(None, None, T0, 30) == (LinkState.OFFLINE, None)
    assert link_state(T0, T0 - 100, T0 + 29, 30) == (LinkState.ONLINE, T0 - 100)
    assert link_state(T0, T0 - 100, T0 + 31, 30) == (LinkState.OFFLINE, T0)


def fix(p: TrackPoint) -> GpsFix:
    return GpsFix(p.lat, p.lon, datetime.fromtimestamp(p.t, UTC), heading=90.0, speed=12.0)


def test_the_fleet_keeps_link_track_and_coverage_and_a_resent_batch_changes_nothing(
    redis_client: redis.Redis,
) -> None:
    settings = FleetSettings(link_timeout_seconds=30, track_point_seconds=5, names={"zz-a1234": "豫A·G2024"})
    fleet = Fleet(redis_client, settings, "Asia/Shanghai", GridIndex(GRIDS))
    ingest = TelemetryIngest(FleetTelemetryStore(redis_client, 900, fleet), load_settings(None).ingest,
                             clock=lambda: T0 + 100)
    batch = [{"lat": p.lat, "lon": p.lon, "time": datetime.fromtimestamp(p.t, UTC).isoformat(), "speed": 12.0}
             for p in (east(0, 0), east(100, 10), east(200, 20), east(300, 30))]
    assert ingest.submit("zz-a1234", batch).accepted == 4
    ingest.submit("zz-a1234", batch)  # the car lost the answer and sent it again
    [v] = fleet.vehicles(T0 + 110)
    assert (v.id, v.name, v.status, v.link) == ("zz-a1234", "豫A·G2024", "on_patrol", LinkState.ONLINE)
    assert v.last_fix is not None and v.last_fix.time.timestamp() == T0 + 30
    assert len(v.track) == 4 and v.track[0].t == T0
    assert sorted(v.covered_grids) == ["G1", "G2"] and v.covered_cells == 7
    assert v.link_since is not None and v.link_since.timestamp() == T0 + 100  # arrival, not the fix time

    # The next batch continues the street from where the last one ended: no hole between batches.
    assert ingest.submit("zz-a1234", [batch[-1] | {"lon": east(600, 60).lon, "time": datetime.fromtimestamp(
        T0 + 60, UTC).isoformat()}]).accepted == 1
    [v] = fleet.vehicles(T0 + 120)
    assert sorted(v.covered_grids) == ["G1", "G2", "G3"] and v.covered_cells == 13

    # Silence: offline since the last contact; contact after the silence starts a new stretch online.
    [v] = fleet.vehicles(T0 + 200)
    assert v.link == LinkState.OFFLINE and v.link_since == datetime.fromtimestamp(T0 + 100, UTC)
    fleet.touch("zz-a1234", T0 + 300)
    [v] = fleet.vehicles(T0 + 301)
    assert v.link == LinkState.ONLINE and v.link_since == datetime.fromtimestamp(T0 + 300, UTC)

    cov = fleet.coverage("2026-11-24")
    assert [g["code"] for g in cov["grids"]] == ["G1", "G2", "G3"]
    assert cov["grids"][0] == {"code": "G1", "name": "grid G1", "first_at": "2026-11-24T02:00:00+00:00",
                               "vehicle": "zz-a1234", "vehicles": ["zz-a1234"]}
    assert len(cov["cells"]) == 13 and cov["vehicles"][0]["polylines"][0][0] == [LAT0, LON0]
    assert abs(cov["vehicles"][0]["km"] - 0.6) < 0.01
    assert fleet.coverage("2026-11-23")["grids"] == []


def test_crew_status_applies_only_when_newer_and_a_day_ends_at_the_citys_midnight(redis_client: redis.Redis) -> None:
    fleet = Fleet(redis_client, FleetSettings(), "Asia/Shanghai")
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert fleet.set_status("zz-a1234", "paused", at, ["Li Wei"], "day").applied
    assert fleet.set_status("zz-a1234", "paused", at, ["Li Wei"], "day").applied  # a resend: same state
    late = fleet.set_status("zz-a1234", "off_duty", at - timedelta(minutes=5))  # delivered late
    assert not late.applied and late.status == "paused" and late.changed_at == at
    [v] = fleet.vehicles(at + timedelta(seconds=1))
    assert (v.status, v.crew, v.shift) == ("paused", ("Li Wei",), "day")

    # 23:59:50 and 00:00:10 in Zhengzhou (UTC+8) belong to two days' tracks.
    before = datetime(2026, 11, 24, 15, 59, 50, tzinfo=UTC).timestamp()
    store = FleetTelemetryStore(redis_client, 900, fleet)
    store.add("zz-a1234", [fix(TrackPoint(before, LAT0, LON0)), fix(TrackPoint(before + 20, LAT0, LON0))],
              now=before + 21)
    assert len(fleet.day_track("2026-11-24", "zz-a1234")) == 1
    assert len(fleet.day_track("2026-11-25", "zz-a1234")) == 1

    [wall] = vehicles_for_wall(redis_client, datetime.fromtimestamp(before + 22, UTC))
    assert wall["id"] == "zz-a1234" and wall["status"] == "paused" and wall["link"] == "online"
    assert (wall["lat"], wall["lon"]) == (LAT0, LON0) and wall["track"] == [[LAT0, LON0]]
    assert set(wall) >= {"id", "name", "status", "link", "lat", "lon", "track", "covered_grids"}


def test_tracks_read_again_fetch_only_what_was_added_and_a_late_backlog_lands_in_time_order(
    redis_client: redis.Redis,
) -> None:
    fleet = Fleet(redis_client, FleetSettings(track_point_seconds=1), "Asia/Shanghai")
    day = "2026-11-24"
    fleet.record_fixes("car-1", [fix(east(10 * i, i)) for i in range(0, 10)], now=T0 + 10)
    assert [p.t - T0 for p in fleet.day_track(day, "car-1")] == list(range(10))
    fleet.record_fixes("car-1", [fix(east(10 * i, i)) for i in range(20, 25)], now=T0 + 25)
    fleet.record_fixes("car-1", [fix(east(10 * i, i)) for i in range(10, 20)], now=T0 + 26)  # the backlog
    fleet.record_fixes("car-1", [fix(east(10 * i, i)) for i in range(10, 20)], now=T0 + 27)  # and resent
    assert [p.t - T0 for p in fleet.day_track(day, "car-1")] == list(range(25))
    # The day's keys expire and the car comes back: the new, longer track is never mixed with the old one read.
    redis_client.delete(*redis_client.keys("gw:fleet:track*"))
    fleet.record_fixes("car-1", [fix(east(5, 100 + i, north=50)) for i in range(40)], now=T0 + 140)
    again = fleet.day_track(day, "car-1")
    assert [p.t - T0 for p in again] == list(range(100, 140))
    assert {p.lat for p in again} == {round(east(5, 0, 50).lat, 7)}


def test_video_from_a_vehicles_camera_keeps_it_online_and_the_wall_names_it(redis_client: redis.Redis) -> None:
    from gridwatch.events import camera_state_to_hash
    from gridwatch.keys import camera_state
    from gridwatch.types import CameraState, CameraStatus

    settings = load_settings(None, fleet={"names": {"zz-b7": "豫A·B7"}, "link_timeout_seconds": 10},
                             ingest={"telemetry_vehicles": {"zz-b7-front": "zz-b7"}})
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    [never] = vehicles_for_wall(redis_client, now, settings=settings)
    assert (never["id"], never["name"], never["link"], never["lat"], never["track"]) == ("zz-b7", "豫A·B7",
                                                                                         "offline", None, [])
    state = CameraState("zz-b7-front", "front", CameraStatus.ONLINE, fps=10, frames=100, dropped=0,
                        last_frame_at=now - timedelta(seconds=1), error=None)
    redis_client.hset(camera_state("zz-b7-front"), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
    [seen] = vehicles_for_wall(redis_client, now, settings=settings)
    assert seen["link"] == "online" and seen["link_since"] == (now - timedelta(seconds=1)).isoformat()
    [later] = vehicles_for_wall(redis_client, now + timedelta(seconds=30), settings=settings)
    assert later["link"] == "offline"  # the worker's frames stopped with the camera's state as it was


def test_coverage_names_grids_from_the_map_in_force_after_an_import_renames_one(redis_client: redis.Redis) -> None:
    router = GridRouter(GRIDS)
    fleet = Fleet(redis_client, FleetSettings(), "Asia/Shanghai", router)
    ingest = TelemetryIngest(FleetTelemetryStore(redis_client, 900, fleet), load_settings(None).ingest,
                             clock=lambda: T0 + 100)
    assert ingest.submit("zz-b5678", [{"lat": east(0, 0).lat, "lon": east(0, 0).lon,
                                       "time": datetime.fromtimestamp(T0, UTC).isoformat()}]).accepted == 1
    assert [(g["code"], g["name"]) for g in fleet.coverage("2026-11-24")["grids"]] == [("G1", "grid G1")]
    router.replace([dataclasses.replace(GRIDS[0], name="花园路第一网格"), *GRIDS[1:]])  # the admin's new map
    assert [(g["code"], g["name"]) for g in fleet.coverage("2026-11-24")["grids"]] == [("G1", "花园路第一网格")]
