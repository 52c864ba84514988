"""The walking skeleton end to end: ``gridwatch run`` as a user starts it, on embedded defaults.

Real parts throughout: the command starts its own redis-server and GStreamer RTSP server, reads the demo car's stream
over RTSP, runs the shared OpenVINO YOLO weights, stores alerts in SQLite and serves the wall and API.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis

from gridwatch.redis_server import free_port
from tests.gridwatch.run_testing import LOADED_MACHINE_VISION, Running, start_gridwatch, stop_gridwatch

ADMIN_PASSWORD = "e2e-admin-password"
CAR_TOKEN = "e2e-car-token"  # auth.device_token: what a patrol car sends as its bearer token
# Logged in as the first admin once the command centre is up: every route but /healthz and /metrics needs it.
_SESSION = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _login(base_url: str) -> None:
    form = urllib.parse.urlencode({"username": "admin", "password": ADMIN_PASSWORD, "next": "/"}).encode()
    with _SESSION.open(urllib.request.Request(f"{base_url}/login", data=form, method="POST"), timeout=30) as resp:
        assert "/login" not in resp.url, "the first admin could not log in"


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with _SESSION.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def command_centre(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("run")
    cfg = tmp / "gridwatch.toml"
    cfg.write_text(
        f"""
data_dir = "{tmp / 'data'}"

[[cameras]]
id = "dead-cam"
name = "Unreachable street camera"
url = "rtsp://admin:topsecret@127.0.0.1:{free_port()}/nothing"

[ingest]
stall_seconds = 3
reconnect_max_seconds = 2
telemetry_ws_port = 0

[dashboard]
port = {free_port()}
ws_port = 0
live_port = 0
{LOADED_MACHINE_VISION}
[auth]
device_token = "{CAR_TOKEN}"

[demo]
rtsp_port = 0
lap_seconds = 40  # the car passes the park every 40 s (default 150 s)
""",
        encoding="utf-8",
    )
    running = start_gridwatch(cfg, tmp / "data", ADMIN_PASSWORD, ready_timeout=180)
    _login(running.url)
    yield running
    stop_gridwatch(running)


def _wait_for(fn, timeout: float, what: str, running: Running):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; last log lines:\n" + "".join(running.lines[-30:]))


def test_alert_from_demo_car_reaches_the_api(command_centre: Running) -> None:
    def alerts() -> list[dict]:  # type: ignore[type-arg]
        # The lap passes the stall (0501) and the park (0502) in either order: wait for the vagrancy one by name.
        status, body = _get(f"{command_centre.url}/api/alerts?limit=50")
        return [a for a in json.loads(body) if a["category"] == "0502"] if status == 200 else []

    found = _wait_for(alerts, 180, "a vagrancy alert from the demo car", command_centre)
    alert = found[0]
    assert alert["camera_id"] == "demo-car"
    assert alert["category"] == "0502" and alert["category_zh"] == "流浪乞讨"
    assert 34.770 <= alert["lat"] <= 34.800 and 113.660 <= alert["lon"] <= 113.720
    assert alert["grid_code"].startswith("410105") and len(alert["grid_code"]) == 15
    status, jpeg = _get(command_centre.url + alert["snapshot_url"])
    assert status == 200 and jpeg[:3] == b"\xff\xd8\xff"


def test_alert_gets_a_clip_by_stream_copy(command_centre: Running) -> None:
    """A few seconds after an alert, its clip (seconds before to seconds after) is served as MP4."""

    def clip() -> str | None:
        status, body = _get(f"{command_centre.url}/api/alerts?limit=50")
        urls = [a.get("clip_url") for a in json.loads(body)] if status == 200 else []
        return next((u for u in urls if u), None)

    url = _wait_for(clip, 90, "an alert clip", command_centre)
    status, mp4 = _get(command_centre.url + url)
    assert status == 200 and mp4[4:8] == b"ftyp" and len(mp4) > 50_000


def test_alerts_become_one_case_per_place(command_centre: Running) -> None:
    """The case consumer turns the car's repeated sightings of the same people into cases, not one per alert."""
    from alerts.casebook import CaseBook, CaseFilter
    from alerts.db import make_engine
    from alerts.repository import Repository
    from geo.routing import GridRouter

    engine = make_engine(f"sqlite:///{command_centre.data_dir / 'gridwatch.db'}")
    try:
        book = CaseBook(engine, GridRouter(Repository(engine).list_grids()))
        cases = _wait_for(lambda: book.queue(CaseFilter(category="0502")), 60, "a vagrancy case", command_centre)
        case = cases[0]
        assert case.status == "reported" and case.is_open
        assert case.grid_code is not None and case.grid_code.startswith("410105")
        assert case.sightings >= 1
        alerts = json.loads(_get(f"{command_centre.url}/api/alerts?limit=500")[1])
        assert sum(c.sightings for c in book.queue(CaseFilter(limit=500))) <= len(alerts)
    finally:
        engine.dispose()


def test_cameras_and_health(command_centre: Running) -> None:
    def cameras() -> dict[str, dict] | None:  # type: ignore[type-arg]
        status, body = _get(f"{command_centre.url}/api/cameras")
        cams = {c["id"]: c for c in json.loads(body)} if status == 200 else {}
        car = cams.get("demo-car", {})
        # Fresh as well as online (a loaded machine may publish a state a moment late: waited for, not sampled).
        ok = car.get("state") == "online" and (car.get("last_frame_age_s") or 99) < 5 \
            and cams.get("dead-cam", {}).get("state") == "offline"
        return cams if ok else None

    _wait_for(cameras, 60, "demo-car online with a fresh frame and dead-cam offline", command_centre)
    status, body = _get(f"{command_centre.url}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, metrics = _get(f"{command_centre.url}/metrics")
    assert status == 200 and b"gridwatch_" in metrics
    try:  # without the session's cookie
        urllib.request.urlopen(f"{command_centre.url}/api/cameras", timeout=10)
        pytest.fail("the API must not answer without a login")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    # The unreachable camera's password never leaves the server, in the API or the log.
    _, api = _get(f"{command_centre.url}/api/cameras")
    assert b"topsecret" not in api
    assert not any("topsecret" in line for line in command_centre.lines)


def test_vehicle_telemetry_and_camera_registry_are_served(command_centre: Running) -> None:
    from datetime import UTC, datetime

    fix = {"lat": 34.781, "lon": 113.671, "time": datetime.now(UTC).isoformat(), "speed": 6.0, "heading": 90}
    req = urllib.request.Request(
        f"{command_centre.url}/api/telemetry/car-9", data=json.dumps(fix).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {CAR_TOKEN}"}, method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # a car: no login, its bearer token
        assert resp.status == 200
    bad = urllib.request.Request(
        f"{command_centre.url}/api/telemetry/car-9", data=json.dumps({**fix, "lat": 123.0}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {CAR_TOKEN}"}, method="POST",
    )
    try:
        urllib.request.urlopen(bad, timeout=10)
        pytest.fail("an impossible latitude must be refused")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400 and b"lat" in exc.read()
    # The demo car reports its GPS like a real one: the wall's vehicle list shows it, online, where its route is.
    def demo_car() -> dict | None:  # type: ignore[type-arg]
        status, body = _get(f"{command_centre.url}/api/vehicles")
        cars = {v["id"]: v for v in json.loads(body)} if status == 200 else {}
        car = cars.get("demo-car")
        return car if car and car["link"] == "online" and car["last_fix"] and len(car["track"]) >= 2 else None

    car = _wait_for(demo_car, 60, "the demo car on the vehicle list", command_centre)
    assert 34.7 < car["last_fix"]["lat"] < 34.85 and 113.6 < car["last_fix"]["lon"] < 113.75
    status, body = _get(f"{command_centre.url}/api/cameras/config")
    ids = {c["id"] for c in json.loads(body)["cameras"]} if status == 200 else set()
    assert {"demo-car", "dead-cam"} <= ids, body[:300]
    assert b"topsecret" not in body


def _redis_pid(running: Running) -> int | None:
    for pid in _children(running.proc.pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server" and _alive(pid):
                return pid
        except OSError:
            continue
    return None


def _ids(running: Running, table: str, column: str = "id") -> set[str]:
    """Ids in the command centre's SQLite database (read-only: the test only looks)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(f"file:{running.data_dir / 'gridwatch.db'}?mode=ro", uri=True, timeout=10)) as db:
        return {str(r[0]) for r in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")}  # noqa: S608


def _redis_url(running: Running) -> str:
    found = [m.group(1) for line in running.lines if (m := re.search(r"private redis-server on (redis://\S+)", line))]
    assert found, "gridwatch run did not log its private redis-server"
    return found[0]


def _demo_track(client: redis.Redis) -> bytes:
    """The demo car's GPS track of the day: an append-only string of points (fleet.vehicles.track_key)."""
    keys = sorted(str(k, "utf-8") if isinstance(k, bytes) else str(k)
                  for k in client.scan_iter(match="*:track:*:demo-car", count=1000))
    return b"".join(cast(bytes, client.get(k) or b"") for k in keys if "track-buckets" not in k)


@pytest.mark.timeout(600)
def test_the_private_redis_survives_a_crash(command_centre: Running) -> None:
    """kill -9 of the private redis-server while the centre runs: it is restarted on its port with its data, every
    part reconnects by itself, /healthz is ok again, and no alert, case or track point is lost."""
    run = command_centre
    client = redis.Redis.from_url(_redis_url(run), socket_timeout=5)
    # The alerts so far (the tests above waited for the demo car's) and their cases ...
    before_alerts, before_cases = _ids(run, "alerts"), _ids(run, "cases")
    # ... and the demo car's GPS track (it lives in Redis only; the car reports once a second).
    before_track = _wait_for(lambda: (t := _demo_track(client)).count(b";") >= 3 and t, 120, "the car's track", run)
    pid = _redis_pid(run)
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    new_pid = _wait_for(lambda: (p := _redis_pid(run)) is not None and p != pid and p, 60, "redis restarted", run)
    restarted_s = time.monotonic() - killed

    def healthy() -> bool:
        status, body = _get(f"{run.url}/healthz")
        return status == 200 and json.loads(body) == {"status": "ok", "redis": True, "database": True}

    _wait_for(healthy, 60, "/healthz ok again", run)
    healthy_s = time.monotonic() - killed
    print(f"redis restarted after {restarted_s:.1f} s, /healthz ok after {healthy_s:.1f} s")  # noqa: T201
    assert not Path(f"/proc/{pid}").exists(), "the dead redis-server was left a zombie"
    assert new_pid != pid
    # Nothing lost: the track (Redis, from its append-only file), the alerts and cases (database) ...
    assert _wait_for(lambda: _demo_track(client), 30, "the track read back", run).startswith(before_track)
    assert before_alerts <= _ids(run, "alerts") and before_cases <= _ids(run, "cases")
    # ... and every part works again by itself: the car's fixes are stored, the camera's state is published, and
    # the alerts made since (stored during the outage, relayed after it) reach their cases through the stream.
    _wait_for(lambda: len(_demo_track(client)) > len(before_track), 60, "new fixes on the track", run)

    def car_online() -> bool:
        status, body = _get(f"{run.url}/api/cameras")
        cams = {c["id"]: c for c in json.loads(body)} if status == 200 else {}
        car = cams.get("demo-car", {})
        return car.get("state") == "online" and (car.get("last_frame_age_s") or 99) < 5

    _wait_for(car_online, 60, "the demo car's camera state published again", run)
    # Every alert, stored before, during (relayed after) or since the crash, reaches its case through the stream.
    after_alerts = _ids(run, "alerts")
    _wait_for(lambda: after_alerts <= _ids(run, "sightings", "alert_id"), 180, "every alert's case", run)
    client.close()


def test_stops_cleanly_with_its_private_services(command_centre: Running) -> None:
    children = _children(command_centre.proc.pid)
    assert children, "gridwatch run should have started redis-server and the RTSP server as children"
    command_centre.proc.send_signal(signal.SIGTERM)
    assert command_centre.proc.wait(timeout=30) == 0
    deadline = time.monotonic() + 10  # reaped by now; a loaded machine may show a zombie's state a moment late
    while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "child processes outlived gridwatch run"
