"""The real patrol agent against the real command centre: the dashboard as ``gridwatch dashboard`` starts it
(``centre.dashboard.start_dashboard``: waitress, the login guard, a real Redis and a SQLite database), reached
through a TCP link that the test can cut like a mobile network dropping out."""
from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from alerts.casebook import CaseBook
from alerts.repository import Repository
from centre.dashboard import start_dashboard
from centre.services import open_redis, open_repository
from fleet.vehicles import Fleet
from geo.grids import GridIndex
from geo.routing import GridRouter
from gridwatch.lifecycle import Lifecycle
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings, load_settings
from patrol import crew
from patrol.agent import PatrolAgent
from patrol.settings import PatrolSettings, load_patrol_settings
from patrol.uplink import LinkDown, Refused, post_json
from tests.dashboard.auth_testing import add_user, login

TOKEN = "car-secret-7f3a"
VEHICLE = "zz-a1234"
REPORT_AT = (34.7725, 113.6720)  # inside a level-3 grid of the demo map


class Link:
    """A TCP relay in front of the command centre: ``cut()`` drops every connection and refuses new ones
    (a dead mobile link), ``restore()`` lets them through again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.up = threading.Event()
        self.up.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()


@dataclass
class Centre:
    settings: Settings
    repo: Repository
    url: str  # the dashboard itself (for the operators' browsers)
    link: Link  # the cars' way in
    fleet: Fleet
    web: requests.Session  # logged in as an operator

    def vehicle(self, vehicle_id: str = VEHICLE) -> dict[str, Any] | None:
        answer = self.web.get(f"{self.url}api/vehicles", timeout=10)
        answer.raise_for_status()
        return next((v for v in answer.json() if v["id"] == vehicle_id), None)

    def cases(self) -> list[Any]:
        return CaseBook(self.repo.engine, GridRouter(self.repo.list_grids())).queue()


@pytest.fixture()
def centre(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Iterator[Centre]:
    settings = load_settings(
        None, data_dir=tmp_path / "data", redis_url=redis_server.url, demo={"enabled": False},
        dashboard={"port": 0, "ws_port": 0, "live_port": 0}, ingest={"telemetry_ws_port": 0},
        fleet={"link_timeout_seconds": 3, "track_point_seconds": 1, "names": {VEHICLE: "豫A·G2024"}},
        auth={"device_token": TOKEN},
    )
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        server = start_dashboard(settings, handle, repo, life)
        add_user(repo, "op", "op-password-1", "operator")
        web = requests.Session()
        login(web, server.url, "op", "op-password-1")
        link = Link(server.port)
        life.started("test link", link.close)
        yield Centre(settings, repo, server.url, link, Fleet(redis_client, settings.fleet, "Asia/Shanghai"), web)


def car_settings(tmp_path: Path, centre_url: str) -> PatrolSettings:
    return load_patrol_settings(
        None, vehicle_id=VEHICLE, crew=["Li Wei", "Zhang Min"], shift="2026-11-24-day",
        relay_url="rtsp://127.0.0.1:9/unused", centre_url=centre_url, centre_token=TOKEN,
        state_dir=tmp_path / "car", recording={"segment_dir": tmp_path / "segments", "disk_cap_mb": 10},
        gps={"source": "simulated", "interval_seconds": 1}, uplink={"batch_seconds": 1, "retry_seconds": 1},
        segments_api={"enabled": False},
    )


@pytest.fixture()
def car(tmp_path: Path, centre: Centre) -> Iterator[PatrolAgent]:
    agent = PatrolAgent(car_settings(tmp_path, centre.link.url)).start()
    yield agent
    agent.stop()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_crew_status_and_a_report_with_a_photo_reach_the_wall_and_the_cases_once(
    centre: Centre, car: PatrolAgent, shared_dir: Path, tmp_path: Path
) -> None:
    assert car.store is not None and car.status_sender is not None and car.reports is not None
    reports = car.reports
    crew.set_status(car.store, car.settings, "paused")
    car.status_sender.wake()
    shown = wait_for(lambda: (v := centre.vehicle()) and v["status"] == "paused" and v["track"] and v,
                     30, "the crew's status and the car's track on GET /api/vehicles")
    assert shown["name"] == "豫A·G2024" and shown["link"] == "online"
    assert shown["crew"] == ["Li Wei", "Zhang Min"] and shown["shift"] == "2026-11-24-day"
    assert shown["last_fix"]["lat"] and shown["last_fix"]["at"].endswith("+00:00")

    photo = shared_dir / "images" / "bus.jpg"
    report = crew.file_report(car.store, car.settings, "0503", "stall on the pavement", photo=photo,
                              lat=REPORT_AT[0], lon=REPORT_AT[1])
    car.reports.wake()
    wait_for(lambda: reports.sent == 1, 30, "the report to be accepted")
    [case] = centre.cases()
    there = GridIndex(centre.repo.list_grids()).locate(*REPORT_AT)
    assert there is not None and there.level == 3
    assert (case.source, case.category, case.grid_code) == ("patrol", "0503", there.code)
    assert case.snapshot_url is not None and case.snapshot_url.startswith("/media/reports/")
    assert centre.web.get(f"{centre.url}{case.snapshot_url.lstrip('/')}", timeout=10).content == photo.read_bytes()
    first = CaseBook(centre.repo.engine, GridRouter(centre.repo.list_grids())).history(case.id)[0]
    assert first.actor == f"{VEHICLE} (Li Wei, Zhang Min)" and first.note == "stall on the pavement"

    # The car lost the answer and sends the same report again: still one case with one sighting.
    car.store.put(crew.REPORT_KIND, report)
    car.reports.wake()
    wait_for(lambda: reports.sent == 2, 30, "the resent report to be answered")
    [again] = centre.cases()
    assert again.id == case.id and again.sightings == 1
    assert wait_for(lambda: (v := centre.vehicle()) and v["reports"] == 1, 10, "one report counted")

    # Refused for good, by name; a car without the token keeps its items queued (a settings problem).
    reports_url = f"{centre.link.url}/api/reports"
    bad = {"report_id": "b" * 32, "vehicle_id": VEHICLE, "category": "9999", "lat": REPORT_AT[0], "lon": REPORT_AT[1]}
    with pytest.raises(Refused, match="HTTP 400: category: unknown issue category '9999'"):
        post_json(reports_url, bad, 10, TOKEN)
    with pytest.raises(LinkDown, match="HTTP 401.*check centre_token"):
        post_json(reports_url, {**bad, "category": "0503"}, 10)
    not_image = {"report_id": "c" * 32, "vehicle_id": VEHICLE, "category": "0503",
                 "photo": {"filename": "x.jpg", "data_base64": base64.b64encode(b"not a photo").decode()}}
    with pytest.raises(Refused, match="photo.data_base64: not a JPEG, PNG or WebP image"):
        post_json(reports_url, not_image, 10, TOKEN)
    with pytest.raises(Refused, match="status: Input should be 'on_patrol', 'paused' or 'off_duty'"):
        post_json(f"{centre.link.url}/api/vehicles/{VEHICLE}/status", {"status": "lunch"}, 10, TOKEN)
    assert len(centre.cases()) == 1

    # An operator takes a phone call: the report enters the same case flow with the operator as reporter.
    phoned = centre.web.post(f"{centre.url}api/reports", json={
        "source": "phone", "category": "0507", "note": "bricks on the road", "lat": REPORT_AT[0],
        "lon": REPORT_AT[1]}, timeout=10)
    assert phoned.status_code == 201 and phoned.json()["grid_code"] == there.code
    by_phone = next(c for c in centre.cases() if c.source == "phone")
    assert CaseBook(centre.repo.engine, GridRouter(centre.repo.list_grids())).history(by_phone.id)[0].actor == "op"
    assert requests.get(f"{centre.url}api/vehicles", timeout=10).status_code == 401  # no login, no vehicles


def test_the_link_goes_offline_when_the_car_falls_silent_and_its_backlog_fills_the_track_when_it_returns(
    centre: Centre, car: PatrolAgent
) -> None:
    online = wait_for(lambda: (v := centre.vehicle()) and v["link"] == "online" and v, 30, "the car online")
    first_since = online["link_since"]
    day = datetime.now(centre.fleet.tz).date().isoformat()

    centre.link.cut()
    cut_at = time.time()
    offline = wait_for(lambda: (v := centre.vehicle()) and v["link"] == "offline" and v, 30, "the car offline")
    assert offline["link_since"] == offline["last_seen"]  # offline since its last contact
    assert datetime.fromisoformat(offline["link_since"]).timestamp() <= cut_at + 1
    # The car drives on and its fixes queue up (waited for: a loaded machine may take a while to notice).
    wait_for(lambda: car.telemetry is not None and car.telemetry.link_up is False and car.telemetry.pending() > 0,
             30, "the car's fixes queued while the link is down")
    time.sleep(max(0.0, cut_at + 3 - time.time()))  # at least 3 s of driving with the link down

    centre.link.restore()
    restored_at = time.time()
    back = wait_for(lambda: (v := centre.vehicle()) and v["link"] == "online" and v, 30, "the car online again")
    assert back["link_since"] != first_since
    assert datetime.fromisoformat(back["link_since"]).timestamp() >= restored_at - 1
    wait_for(lambda: car.telemetry is not None and car.telemetry.pending() == 0, 30, "the backlog uploaded")

    # Today's track has no hole where the link was down: the queued fixes arrived with their own times.
    times = [p.t for p in centre.fleet.day_track(day, VEHICLE) if cut_at - 2 <= p.t <= restored_at + 1]
    assert times and max(b - a for a, b in zip(times, times[1:], strict=False)) <= 2.5
    coverage = centre.web.get(f"{centre.url}api/coverage", params={"day": day}, timeout=10).json()
    [mine] = coverage["vehicles"]
    assert mine["id"] == VEHICLE and len(mine["polylines"]) == 1 and mine["cells"] >= 1
    assert coverage["grids"] and all(g["vehicle"] == VEHICLE for g in coverage["grids"])
    assert centre.web.get(f"{centre.url}api/coverage", params={"day": "yesterday"}, timeout=10).status_code == 400
