"""The wall's figures and grid counts over a real database: cases made by CaseService and Casework."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
import requests
from auth_testing import DEFAULT_PASSWORD, add_user, login
from wall_testing import IN_GRID_1, IN_GRID_2, OTHER_OFFICE, ingest_alerts, open_case, overdue_case

from alerts.cases import CaseService
from alerts.repository import Repository
from dashboard import map as gridmap
from dashboard import page_services, wall_queries
from dashboard.page_services import PageServices
from dashboard.server import DashboardServer
from dashboard.wall_data import WallData, fleet_vehicles
from fleet.vehicles import Fleet
from geo.routing import GridRouter
from gridwatch.settings import CameraSettings, Settings
from gridwatch.types import CameraState, CameraStatus, GpsFix
from ingest.gps import TelemetryStore

OFFICE, COMMUNITY = "410105001", "410105001001"
GRID_1, GRID_2 = "410105001001001", "410105001001002"


@pytest.fixture
def services(repo: Repository, settings: Settings, redis_client: redis.Redis) -> PageServices:
    """The bundle a dashboard app reads the wall through."""
    return page_services.build(settings, repo, redis_client)


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_figures_and_counts_follow_the_cases(repo: Repository, settings: Settings, services: PageServices) -> None:
    clock = _Clock()
    data = WallData(services, "Asia/Shanghai", ttl_s=1.0, clock=clock)
    empty = data.summary()
    assert empty["counts"] == {}
    assert empty["figures"]["collected"] == 0 and empty["figures"]["closure_rate"] is None
    assert empty["totals"] == {"open": 0, "overdue": 0}

    open_case(repo, settings, IN_GRID_1)
    assert data.summary() is empty  # within ttl_s every viewer shares the same answer
    clock.t = 1.5
    one = data.summary()
    assert one["version"] != empty["version"]
    assert one["counts"][GRID_1] == [1, 0]
    assert one["counts"][COMMUNITY] == [1, 0] and one["counts"][OFFICE] == [1, 0]
    assert one["figures"]["collected"] == 1 and one["figures"]["dispatched"] == 0

    overdue_case(repo, settings, IN_GRID_2)
    clock.t = 3.0
    two = data.summary()
    assert two["counts"][GRID_2] == [1, 1]
    assert two["counts"][OFFICE] == [2, 1]
    assert two["totals"] == {"open": 2, "overdue": 1}
    # The day's figures count the cases reported today (in China): the month-old one is not among them.
    assert two["figures"]["collected"] == 1
    clock.t = 4.5
    assert data.summary()["version"] == two["version"]  # nothing changed: same version, viewers get a 204


def test_todays_alert_positions_are_on_the_map(  # type: ignore[no-untyped-def]
    repo: Repository, store_alert, settings: Settings, services: PageServices
) -> None:
    now = datetime.now(UTC)
    today = store_alert(detected_at=now)
    store_alert(detected_at=now - timedelta(days=2))
    store_alert(detected_at=now, grid_code=None)  # no position
    points = WallData(services, "Asia/Shanghai").summary()["points"]
    assert [p["id"] for p in points] == [today.id]
    assert points[0]["lat"] == today.lat and points[0]["category"] == today.category


def test_the_queue_lists_each_problem_once_however_often_it_was_seen(
    repo: Repository, store_alert, settings: Settings, services: PageServices,  # type: ignore[no-untyped-def]
) -> None:
    now = datetime.now(UTC)
    laps = [store_alert(detected_at=now - timedelta(minutes=20 - 5 * i), category="0502", camera_id="car-1",
                        snapshot="bus.jpg") for i in range(3)]
    stall = store_alert(detected_at=now - timedelta(minutes=30), category="0503", camera_id="car-2")
    cases = ingest_alerts(repo, settings, *laps, stall)
    assert len(set(cases[:3])) == 1 and cases[3] != cases[0]
    queue = WallData(services, "Asia/Shanghai").summary()["queue"]
    assert [q["id"] for q in queue] == [cases[0], cases[3]]  # the latest seen first
    beggar = queue[0]
    assert beggar["sightings"] == 3 and beggar["case_id"] == cases[0] and beggar["category_zh"] == "流浪乞讨"
    assert beggar["camera_id"] == "car-1" and beggar["snapshot_url"].startswith("/media/snapshots/")
    assert datetime.fromisoformat(beggar["detected_at"]) == laps[-1].detected_at
    assert beggar["seen_clear"] is False
    # A patrol car's pass finds the place clear: the item says so (and stays until the operator closes it).
    service = CaseService(repo.engine, GridRouter(repo.list_grids(), settings.cases.fallback_grid), settings.cases)
    assert service.record_clear_pass(cases[0], "car-1", now, lat=laps[0].lat, lon=laps[0].lon)
    again = WallData(services, "Asia/Shanghai").summary()["queue"]
    assert again[0]["id"] == cases[0] and again[0]["seen_clear"] is True and again[0]["status"] == "handled"
    assert WallData(services, "Asia/Shanghai").summary(scope="410105002")["queue"] == []  # another office's viewer


def test_camera_positions_come_from_settings_or_the_cars_gps(redis_client: redis.Redis) -> None:
    store = TelemetryStore(redis_client, 900)
    fix_at = datetime.now(UTC) - timedelta(seconds=12)
    store.add("car-7", [GpsFix(lat=34.7801, lon=113.6802, time=fix_at)])
    fixed = CameraSettings(id="gate", name="东门", url="rtsp://example/gate", lat=34.79, lon=113.67)
    got = wall_queries.camera_positions(redis_client, [fixed], ["gate", "cam-7", "car-9"], {"cam-7": "car-7"},
                                   now=fix_at + timedelta(seconds=12))
    assert got["gate"] == {"lat": 34.79, "lon": 113.67, "age_s": None}
    assert got["cam-7"] == {"lat": 34.7801, "lon": 113.6802, "age_s": 12.0}
    assert "car-9" not in got  # no GPS yet: no position rather than a made-up one


def test_alert_priority_by_category() -> None:
    assert wall_queries.priority("0502") == 1  # a person who may need help
    assert wall_queries.priority("0503") == 2
    assert wall_queries.priority("0504") == 3
    assert wall_queries.priority("9999") == wall_queries.DEFAULT_PRIORITY


def test_vehicles_of_the_fleet_are_in_the_summary_for_the_map(
    repo: Repository, settings: Settings, redis_client: redis.Redis, services: PageServices
) -> None:
    fleet = Fleet.for_settings(settings, redis_client, repo.list_grids())
    now = datetime.now(UTC)
    fixes = [GpsFix(lat=34.7800 + i * 0.001, lon=113.6700, time=now - timedelta(seconds=30 - i * 10)) for i in range(3)]
    fleet.record_fixes("car-7", fixes)
    TelemetryStore(redis_client, 900).add("car-7", fixes)
    summary = WallData(services, "Asia/Shanghai", vehicles=fleet_vehicles(fleet)).summary()
    car = next(v for v in summary["vehicles"] if v["id"] == "car-7")
    assert (car["lat"], car["lon"]) == (34.782, 113.67)
    assert car["track"][0] == [34.78, 113.67] and len(car["track"]) >= 3
    figure = gridmap.grid_map(repo.list_grids(), summary["counts"], vehicles=summary["vehicles"]).figure
    marker = next(t for t in figure["data"] if t.get("name") == "Vehicle")
    assert marker["x"] == [113.67] and marker["y"] == [34.782]


def test_summary_and_frame_routes_need_a_login_and_answer_204_while_unchanged(
    dashboard: DashboardServer, login_cookie: dict[str, str], repo: Repository, settings: Settings,
    publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
) -> None:
    base = dashboard.url.rstrip("/")
    assert requests.get(base + "/api/wall/summary", timeout=10).status_code == 401
    assert requests.get(base + "/video/cam-1.jpg", timeout=10).status_code == 401
    first = requests.get(base + "/api/wall/summary", headers=login_cookie, timeout=10)
    assert first.status_code == 200
    body = first.json()
    assert body["figures"]["collected"] == 0 and body["totals"] == {"open": 0, "overdue": 0}
    same = requests.get(base + "/api/wall/summary", params={"v": body["version"]}, headers=login_cookie, timeout=10)
    assert same.status_code == 204 and same.content == b""
    open_case(repo, settings, IN_GRID_1)
    deadline = time.monotonic() + 10  # the shared summary is recomputed at most once per ttl_s (0.8 s)
    while True:
        changed = requests.get(base + "/api/wall/summary", params={"v": body["version"]}, headers=login_cookie,
                               timeout=10)
        if changed.status_code != 204 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert changed.status_code == 200 and changed.json()["figures"]["collected"] == 1

    frame = jpeg("bus.jpg", 320)
    publish_camera("cam-1", "东门", preview=frame)
    got = requests.get(base + "/video/cam-1.jpg", headers=login_cookie, timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg" and got.content == frame
    assert got.headers["Cache-Control"] == "no-store"
    publish_camera("cam-2", "西门", CameraStatus.OFFLINE)  # no preview: the no-signal card
    card = requests.get(base + "/video/cam-2.jpg", headers=login_cookie, timeout=10)
    assert card.status_code == 200 and card.headers["X-Frame-State"] == "no-signal" and card.content[:2] == b"\xff\xd8"
    assert requests.get(base + "/video/nope.jpg", headers=login_cookie, timeout=10).status_code == 404


def test_a_grid_scoped_viewer_gets_the_figures_and_counts_of_its_subtree_only(
    dashboard: DashboardServer, repo: Repository, settings: Settings, services: PageServices,
) -> None:
    open_case(repo, settings, IN_GRID_1)
    open_case(repo, settings, OTHER_OFFICE, category="0501")
    add_user(repo, "grid-1-staff", DEFAULT_PASSWORD, "grid_staff", scope_grid=GRID_1)
    summary = WallData(services, "Asia/Shanghai").summary(scope=GRID_1)
    assert set(summary["counts"]) == {GRID_1} and summary["totals"] == {"open": 1, "overdue": 0}
    assert summary["figures"]["collected"] == 1
    territory = WallData(services, "Asia/Shanghai").summary()
    assert territory["totals"]["open"] == 2 and territory["figures"]["collected"] == 2
    with requests.Session() as s:
        login(s, dashboard.url, "grid-1-staff")
        body = s.get(dashboard.url.rstrip("/") + "/api/wall/summary", timeout=10).json()
    assert body["totals"] == {"open": 1, "overdue": 0} and body["figures"]["collected"] == 1
