"""GPS telemetry: HTTP and websocket receivers on a real Redis, validation with reasons, positions per frame."""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import flask
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from werkzeug.serving import BaseWSGIServer, make_server

from dashboard.api import telemetry
from dashboard.telemetry_ws import TelemetryWsServer
from demo.server import RtspTestServer
from demo.simulate_car import CarSimulator, WsSender, fix_payload, http_sender
from fleet.telemetry import TelemetryIngest
from geo.routes import route
from gridwatch import keys
from gridwatch.settings import AuthSettings, IngestSettings, Settings
from gridwatch.types import GpsFix
from ingest.gps import TelemetryStore, TrackGpsSource, gps_for_camera, position_at
from ingest.reader import CameraReader
from tests.api_testing import api_app
from tests.ingest.conftest import camera, wait_for

SETTINGS = IngestSettings(telemetry_max_future_seconds=30, telemetry_max_speed_mps=70, telemetry_track_seconds=600)


def metres(a: GpsFix, b: GpsFix) -> float:
    lat0 = math.radians((a.lat + b.lat) / 2)
    return math.hypot(math.radians(b.lon - a.lon) * math.cos(lat0), math.radians(b.lat - a.lat)) * 6_371_008.8


def good_fix(t: datetime | None = None, **extra: object) -> dict[str, object]:
    fix: dict[str, object] = {"lat": 34.78, "lon": 113.68, "time": (t or datetime.now(UTC)).isoformat(),
                              "heading": 90.0, "speed": 8.0}
    fix.update(extra)
    return fix


@pytest.fixture()
def ingest(redis_client: redis.Redis) -> TelemetryIngest:
    return TelemetryIngest(TelemetryStore(redis_client, SETTINGS.telemetry_track_seconds), SETTINGS)


@pytest.fixture()
def app(settings: Settings, redis_client: redis.Redis, ingest: TelemetryIngest) -> flask.Flask:
    """The dashboard's GPS route (dashboard.api.telemetry) over ``ingest``."""
    return api_app(settings, redis_client, telemetry.blueprint, telemetry=ingest)


@pytest.fixture()
def http_base(app: flask.Flask) -> Iterator[str]:
    """The route on a real HTTP server (as the dashboard serves it)."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture()
def ws_server(ingest: TelemetryIngest) -> Iterator[TelemetryWsServer]:
    # Open car routes (dev only): these tests are about the GPS messages; the token is tested in
    # tests/dashboard/test_front_door.py.
    server = TelemetryWsServer(ingest, auth=AuthSettings(open_car_routes=True)).start()
    try:
        yield server
    finally:
        server.stop()


def post(client: flask.testing.FlaskClient, body: object, vehicle: str = "car-1") -> tuple[int, dict[str, object]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = client.post(f"/api/telemetry/{vehicle}", data=data, content_type="application/json")
    return resp.status_code, resp.get_json()


def test_http_refuses_bad_fixes_with_the_reason_and_keeps_accepting_good_ones(
    app: flask.Flask, ingest: TelemetryIngest, redis_client: redis.Redis
) -> None:
    client = app.test_client()
    now = datetime.now(UTC)
    cases: list[tuple[object, str]] = [
        (b'{"lat": 34.78, "lon": ', "invalid JSON"),
        ({**good_fix(), "lat": 95.0}, "lat: Input should be less than or equal to 90"),
        ({**good_fix(), "lon": -181}, "lon: Input should be greater than or equal to -180"),
        ({**good_fix(), "lat": 0, "lon": 0}, "(0, 0) is a receiver without a fix"),
        (good_fix(now + timedelta(hours=2)), "in the future"),
        ({**good_fix(), "time": "2026-11-24T08:00:00"}, "time: Input should have timezone info"),
        ({**good_fix(), "lng": 113.7}, "lng: unknown field"),
        ({**good_fix(), "speed": 250}, "speed: 250 m/s is impossible"),
        ({**good_fix(), "lat": "north"}, "lat: Input should be a valid number"),
        (good_fix(now - timedelta(hours=1)), "older than the kept track"),
        ([], "empty list"),
        ("34.78,113.68", "must be a JSON object"),
    ]
    for body, reason in cases:
        status, answer = post(client, body)
        assert status == 400, (body, answer)
        assert reason in str(answer["error"]), (body, answer)
        assert answer["accepted"] == 0
        # ... and the very next good fix is still taken.
        status, answer = post(client, good_fix())
        assert status == 200 and answer == {"accepted": 1, "rejected": []}
    assert ingest.counters.accepted == len(cases) and ingest.counters.rejected == len(cases)
    assert ingest.counters.bad_json == 1
    stats = ingest.store.stats()
    assert stats["accepted"] == len(cases) and stats["rejected"] == len(cases)
    assert redis_client.zcard(keys.track("car-1")) == len(cases)


def test_http_batch_keeps_the_good_fixes_and_names_the_bad_ones(app: flask.Flask, ingest: TelemetryIngest) -> None:
    client = app.test_client()
    now = datetime.now(UTC)
    batch = [good_fix(now - timedelta(seconds=2)), {**good_fix(), "lat": -91}, good_fix(now - timedelta(seconds=1))]
    status, answer = post(client, batch, "car-2")
    assert status == 200 and answer["accepted"] == 2
    assert answer["rejected"] == [{"index": 1, "error": "lat: Input should be greater than or equal to -90"}]
    track = ingest.store.track("car-2")
    assert [f.time for f in track] == [now - timedelta(seconds=2), now - timedelta(seconds=1)]
    last = ingest.store.last("car-2")
    assert last is not None and last.time == now - timedelta(seconds=1)
    # An older fix arriving late joins the track but does not replace the newest one.
    post(client, good_fix(now - timedelta(seconds=30)), "car-2")
    assert ingest.store.last("car-2") == last and len(ingest.store.track("car-2")) == 3
    status, answer = post(client, good_fix(), "bad/id")
    assert status == 404  # not a route: the vehicle id cannot hold a slash
    status, answer = post(client, good_fix(), "bad id")
    assert status == 400 and "vehicle id" in str(answer["error"])
    assert "car-2" in ingest.store.vehicles()


def test_websocket_answers_every_message_and_survives_bad_ones(
    ws_server: TelemetryWsServer, ingest: TelemetryIngest
) -> None:
    with connect(ws_server.url_for("car-3"), open_timeout=5) as ws:
        def send(message: str) -> dict[str, object]:
            ws.send(message)
            return dict(json.loads(ws.recv(timeout=5)))

        assert send(json.dumps(good_fix())) == {"ok": True, "accepted": 1, "rejected": []}
        bad = send("{not json")
        assert bad["ok"] is False and "invalid JSON" in str(bad["error"])
        future = send(json.dumps(good_fix(datetime.now(UTC) + timedelta(minutes=10))))
        assert future["ok"] is False and "in the future" in str(future["error"])
        nowhere = send(json.dumps({**good_fix(), "lat": 0, "lon": 0}))
        assert nowhere["ok"] is False and "(0, 0)" in str(nowhere["error"])
        assert send(json.dumps(good_fix()))["ok"] is True  # the connection is still good
    assert len(ingest.store.track("car-3")) == 2 and ingest.counters.rejected == 3
    with connect(f"ws://127.0.0.1:{ws_server.port}/elsewhere", open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "/telemetry/<vehicle_id>" in closed.value.rcvd.reason


def test_simulated_car_drives_the_demo_route_over_http_and_websocket(
    http_base: str, ws_server: TelemetryWsServer, ingest: TelemetryIngest
) -> None:
    car = route("jinshui-demo", speed_mps=15.0)
    by_http = CarSimulator(car, http_sender(http_base, "car-h"), rate_hz=10, vehicle_id="car-h").start()
    ws_send = WsSender(f"ws://127.0.0.1:{ws_server.port}", "car-w")
    by_ws = CarSimulator(car, ws_send, rate_hz=10, vehicle_id="car-w").start()
    try:
        wait_for(lambda: by_http.sent >= 10 and by_ws.sent >= 10, 30, "10 fixes over each transport")
    finally:
        by_http.stop()
        by_ws.stop()
        ws_send.close()
    assert by_http.failed == 0 and by_ws.failed == 0
    for vehicle in ("car-h", "car-w"):
        track = ingest.store.track(vehicle)
        assert len(track) >= 10
        for fix in track:  # every stored fix is where the car was at that time
            assert metres(fix, car.fix_at(fix.time)) < 0.1
        assert metres(track[0], track[-1]) > 10  # it moved


def test_position_is_interpolated_between_fixes_and_briefly_carried_on(ingest: TelemetryIngest) -> None:
    car = route("jinshui-demo", speed_mps=10.0, start=datetime.now(UTC) - timedelta(seconds=300))
    now = datetime.now(UTC).replace(microsecond=0)
    fixes = [fix_payload(car.fix_at(now - timedelta(seconds=s))) for s in range(20, 0, -2)]  # every 2 s
    assert ingest.submit("car-4", fixes).accepted == 10
    source = TrackGpsSource(ingest.store, "car-4", max_gap_seconds=10)
    for offset in (19.0, 15.5, 7.25, 3.0):  # between fixes
        t = now - timedelta(seconds=offset)
        fix = source(t)
        assert fix is not None and fix.time == t
        assert metres(fix, car.fix_at(t)) < 15  # on the road (a corner may be cut between two fixes)
    ahead = now + timedelta(seconds=-1)  # 1 s past the newest fix (2 s ago): dead reckoning
    fix = source(ahead)
    assert fix is not None and metres(fix, car.fix_at(ahead)) < 12
    assert source(now + timedelta(seconds=15)) is None  # too long since the last fix: unknown
    assert source(now - timedelta(seconds=40)) is None  # before the track
    # Cached: a burst of frames costs no Redis round trip per frame.
    reads = source.reads
    for i in range(200):
        source(now - timedelta(seconds=10, milliseconds=i))
    assert source.reads == reads
    assert position_at([], now, 10) is None


def test_frames_of_a_car_camera_carry_the_position_the_car_reported(
    rtsp_server: RtspTestServer, ingest: TelemetryIngest, http_base: str, fast_ingest: IngestSettings
) -> None:
    car = route("jinshui-demo", speed_mps=10.0)
    sim = CarSimulator(car, http_sender(http_base, "car-7"), rate_hz=2, vehicle_id="car-7").start()
    cam = camera(rtsp_server.url, "car-7")
    gps = gps_for_camera(cam, fast_ingest, ingest.store)
    assert isinstance(gps, TrackGpsSource) and gps.vehicle_id == "car-7"
    reader = CameraReader(cam, fast_ingest, gps=gps).start()
    try:
        wait_for(lambda: sim.sent >= 2, 10, "the car's first fixes")
        frames = []
        seq = -1
        deadline = time.monotonic() + 15
        while len(frames) < 5 and time.monotonic() < deadline:
            frame = reader.wait_latest(seq, timeout=1)
            if frame is not None:
                seq = frame.seq
                if frame.fix is not None:
                    frames.append(frame)
    finally:
        reader.stop()
        sim.stop()
    assert len(frames) == 5
    for frame in frames:
        assert frame.fix is not None and frame.fix.time == frame.captured_at
        assert metres(frame.fix, car.fix_at(frame.captured_at)) < 15  # where the car was when it was filmed
    # A camera with a simulated route or a fixed place keeps that source.
    assert not isinstance(gps_for_camera(camera(rtsp_server.url, "x", gps_route="jinshui-demo"), fast_ingest,
                                         ingest.store), TrackGpsSource)
