"""Live video relay (dashboard.live): real RTSP cameras copied into fragmented MP4 over the live websocket.

What a viewer would notice: the stream starts at a keyframe and decodes; every viewer of a camera shares one
camera connection, closed once nobody watches; a viewer that stops reading resumes at the live edge instead of
replaying what it missed; a camera whose codec a browser may lack is announced as such; the worker's detection boxes
reach the viewers; the socket refuses pages of other sites, browsers without a login and unknown cameras.
"""
from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from auth_testing import cookie_header, ensure_user
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.timecode_source import TimecodeCamera
from dashboard import fmp4
from dashboard.live import KIND_DELTA, KIND_INIT, KIND_KEY, LiveServer, split_message
from dashboard.server import DashboardServer
from demo.server import RtspTestServer
from gridwatch import boxes
from gridwatch.settings import CameraSettings
from gridwatch.types import Detections, Frame

TIMEOUT_S = 30  # each wait: a loaded 2-core CI machine opens a camera in ~1 s; 30 s is a wide margin


def _camera(url: str, camera_id: str = "cam-1") -> CameraSettings:
    return CameraSettings.model_validate({"id": camera_id, "name": camera_id, "url": url})


def _wait(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def h264_camera() -> Iterator[TimecodeCamera]:
    with TimecodeCamera(codec="h264") as cam:
        yield cam


@pytest.fixture(scope="module")
def street_camera(shared_dir: Path) -> Iterator[RtspTestServer]:
    """Real street footage (1280x720, 25 fps, ~2 Mbit/s): enough bytes that a stalled viewer backs up."""
    with RtspTestServer(shared_dir / "video" / "towncentre_street_pedestrians_1080p.mp4", width=1280) as server:
        yield server


@pytest.fixture()
def live(h264_camera: TimecodeCamera, street_camera: RtspTestServer) -> Iterator[LiveServer]:
    cams = {"cam-1": _camera(h264_camera.url), "street": _camera(street_camera.url, "street")}
    server = LiveServer(cams.get, linger_s=0.5).start()
    yield server
    server.stop()


def _url(server: LiveServer, camera_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/live/{camera_id}"


def _binary(ws: ClientConnection) -> tuple[int, float, float, bytes]:
    data = ws.recv(timeout=TIMEOUT_S)
    assert isinstance(data, bytes), f"expected a binary message, got {data!r}"
    return split_message(data)


def _messages(ws: ClientConnection, frames: int) -> tuple[dict[str, Any], list[tuple[int, float, float, bytes]]]:
    """The stream announcement, then the init segment and ``frames`` fragments."""
    announced = json.loads(ws.recv(timeout=TIMEOUT_S))
    got = [_binary(ws) for _ in range(frames + 1)]
    return announced, got


def test_a_viewer_gets_a_playable_stream_starting_at_a_keyframe(live: LiveServer) -> None:
    with connect(_url(live, "cam-1")) as ws:
        announced, got = _messages(ws, 30)
    assert announced["type"] == "stream" and announced["codec"].startswith("avc1.")
    kinds = [kind for kind, *_ in got]
    assert kinds[0] == KIND_INIT and kinds[1] == KIND_KEY and set(kinds[2:]) <= {KIND_KEY, KIND_DELTA}
    media_times = [media for kind, media, _, _ in got[1:]]
    assert media_times == sorted(media_times) and media_times[-1] > media_times[0]
    # Init + fragments are one fragmented MP4 that FFmpeg decodes frame by frame: nothing was re-encoded.
    with av.open(io.BytesIO(b"".join(payload for *_, payload in got)), "r") as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 30 and (frames[0].width, frames[0].height) == (640, 360)


def test_viewers_of_a_camera_share_one_connection_closed_when_the_last_leaves(live: LiveServer) -> None:
    with connect(_url(live, "cam-1")) as first, connect(_url(live, "cam-1")) as second:
        for ws in (first, second):
            _messages(ws, 5)
        assert live.upstreams() == {"cam-1": 2}
        assert live.connections("cam-1") == 1
    _wait(lambda: live.upstreams() == {}, "the camera's connection to close after its last viewer left")


def test_a_viewer_that_stops_reading_resumes_at_the_live_edge(live: LiveServer) -> None:
    # max_queue=1 and a small receive buffer: the client stops reading from the socket while the test does not
    # ask, so the server's queue for it grows within a second, as for a frozen browser tab on a slow link.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", live.port))
    with connect(_url(live, "street"), max_queue=1, sock=sock) as ws:
        _messages(ws, 5)
        time.sleep(10)  # a stalled viewer: ~2 s of video fill the socket buffers, 1 s more is the server's limit
        got = [_binary(ws) for _ in range(120)]
    media = [m for _, m, _, _ in got]
    jumps = [(i, b - a) for i, (a, b) in enumerate(zip(media, media[1:], strict=False), start=1) if b - a > 1.0]
    assert jumps, "the viewer got every frame of the stall instead of skipping to the live edge"
    first_after = jumps[0][0]
    assert got[first_after][0] == KIND_KEY, "after the skip the stream must resume at a keyframe"


def _decoded_size(ws: ClientConnection) -> tuple[int, int]:
    _, got = _messages(ws, 3)
    with av.open(io.BytesIO(b"".join(payload for *_, payload in got)), "r") as container:
        frame = next(iter(container.decode(video=0)))
    return frame.width, frame.height


def test_a_small_tile_gets_the_cameras_sub_stream_where_it_has_one(
    h264_camera: TimecodeCamera, street_camera: RtspTestServer
) -> None:
    both = CameraSettings.model_validate({"id": "dual", "name": "dual", "url": street_camera.url,
                                          "detect_url": h264_camera.url})
    main_only = _camera(street_camera.url, "main-only")
    server = LiveServer({"dual": both, "main-only": main_only}.get).start()
    try:
        with connect(_url(server, "dual") + "?stream=sub") as small, connect(_url(server, "dual")) as large:
            assert _decoded_size(small) == (640, 360) and _decoded_size(large) == (1280, 720)
            assert set(server.upstreams()) == {"dual", "dual@sub"}
        with connect(_url(server, "main-only") + "?stream=sub") as small:
            assert _decoded_size(small) == (1280, 720)  # no sub-stream: the main one
    finally:
        server.stop()


def test_an_h265_camera_is_announced_with_its_codec(tmp_path: Any) -> None:
    with TimecodeCamera(codec="h265") as cam:
        server = LiveServer({"cam-h": _camera(cam.url, "cam-h")}.get).start()
        try:
            with connect(_url(server, "cam-h")) as ws:
                announced, got = _messages(ws, 3)
        finally:
            server.stop()
    # The page asks MediaSource.isTypeSupported(mime) and keeps the preview when the browser says no.
    assert announced["codec"].startswith("hvc1") and announced["mime"].startswith("video/mp4")
    assert got[0][0] == KIND_INIT and fmp4.find_box(got[0][3], (b"moov", b"trak")) is not None


def test_the_workers_detection_boxes_reach_the_viewers_in_frame_fractions(
    h264_camera: TimecodeCamera, redis_server: Any, redis_client: Any
) -> None:
    server = LiveServer({"cam-1": _camera(h264_camera.url)}.get, redis_url=redis_server.url).start()
    frame = Frame("cam-1", 0, datetime.now(UTC), np.zeros((360, 640, 3), np.uint8))
    dets = Detections(np.array([[160, 90, 480, 270]], np.float32), np.array([0.9], np.float32),
                      np.array([0], np.int32), ("person",))
    try:
        with connect(_url(server, "cam-1")) as ws:
            _messages(ws, 2)  # playing: from here on the viewer is sent box sets too
            deadline = time.monotonic() + TIMEOUT_S
            found = None
            while found is None:
                assert time.monotonic() < deadline, "no box set reached the viewer"
                redis_client.publish(boxes.channel("cam-1"), boxes.encode(frame, dets))
                for _ in range(10):
                    data = ws.recv(timeout=TIMEOUT_S)
                    if isinstance(data, str) and json.loads(data)["type"] == "boxes":
                        found = json.loads(data)
                        break
    finally:
        server.stop()
    assert found["boxes"] == [[0.25, 0.25, 0.75, 0.75, "person", 0.9]]
    assert found["t"] == pytest.approx(frame.captured_at.timestamp())


def _close_code(url: str, **headers: str) -> int | None:
    with connect(url, additional_headers=headers, open_timeout=TIMEOUT_S) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=TIMEOUT_S)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def test_the_wall_live_socket_checks_login_origin_and_camera(
    settings: Any, repo: Any, redis_client: Any, redis_server: Any, h264_camera: TimecodeCamera
) -> None:
    cams = {"cam-1": _camera(h264_camera.url)}
    dashboard = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0,
                                cameras=cams.get).start()
    try:
        live = dashboard.live
        assert live is not None
        ensure_user(repo)
        login = cookie_header(dashboard.url, "tester")
        page = f"http://127.0.0.1:{dashboard.port}"
        assert _close_code(_url(live, "cam-1"), Origin=page) == 4401  # no login: the page goes to /login
        assert _close_code(_url(live, "cam-1"), **login, Origin="http://evil.example") == 4403
        assert _close_code(_url(live, "no-such-cam"), **login, Origin=page) == 4404
        with connect(_url(live, "cam-1"), additional_headers={**login, "Origin": page}) as ws:
            announced, got = _messages(ws, 2)
        assert announced["type"] == "stream" and got[1][0] == KIND_KEY
        # The page finds the socket through /api/live (a logged-in route, no camera URL in it).
        import requests

        config = requests.get(dashboard.url + "api/live", headers=login, timeout=TIMEOUT_S).json()
        assert config["url"].endswith(f":{live.port}/live/") and config["maxTiles"] == 16
        assert "rtsp" not in json.dumps(config)
        assert requests.get(dashboard.url + "api/live", timeout=TIMEOUT_S, allow_redirects=False).status_code in (
            302, 303, 401)
    finally:
        dashboard.stop()


def test_a_grid_scoped_viewer_watches_live_only_the_cameras_in_their_grid(
    settings: Any, repo: Any, redis_client: Any, redis_server: Any, h264_camera: TimecodeCamera
) -> None:
    """Grid staff of community 410105001001 watch its park camera live; a patrol car (no fixed place) or a camera
    elsewhere is refused as /video/<id>.jpg refuses it (security issue 14: scope on every video route)."""
    import requests
    from auth_testing import add_user

    from alerts.users import Role

    park = CameraSettings.model_validate({"id": "park-cam", "name": "Park", "url": h264_camera.url,
                                          "lat": 34.7865, "lon": 113.6745})  # inside grid 410105001001003
    car = _camera(h264_camera.url, "car-cam")
    cams = {c.id: c for c in (park, car)}
    scoped = settings.model_copy(update={"cameras": (park, car)})
    dashboard = DashboardServer(scoped, repo, redis_client, redis_server.url, port=0, ws_port=0,
                                cameras=cams.get).start()
    try:
        live = dashboard.live
        assert live is not None
        add_user(repo, "staff-a", role=Role.GRID_STAFF, scope_grid="410105001001")
        login = cookie_header(dashboard.url, "staff-a")
        page = f"http://127.0.0.1:{dashboard.port}"
        assert _close_code(_url(live, "car-cam"), **login, Origin=page) == 4403
        assert requests.get(dashboard.url + "video/car-cam.jpg", headers=login, timeout=TIMEOUT_S).status_code == 403
        with connect(_url(live, "park-cam"), additional_headers={**login, "Origin": page}) as ws:
            announced, got = _messages(ws, 2)
        assert announced["type"] == "stream" and got[1][0] == KIND_KEY
        # The whole territory (an operator without a scope) watches the car as before.
        add_user(repo, "op-all", role=Role.OPERATOR)
        everyone = cookie_header(dashboard.url, "op-all")
        with connect(_url(live, "car-cam"), additional_headers={**everyone, "Origin": page}) as ws:
            announced, _ = _messages(ws, 1)
        assert announced["type"] == "stream"
    finally:
        dashboard.stop()


def test_with_mediamtx_the_page_is_sent_there_and_no_video_is_served(
    settings: Any, repo: Any, redis_client: Any, redis_server: Any
) -> None:
    from auth_testing import cookie_header

    board = settings.dashboard.model_copy(update={"live_source": "mediamtx"})
    dashboard = DashboardServer(settings.model_copy(update={"dashboard": board}), repo, redis_client,
                                redis_server.url, port=0, ws_port=0).start()
    try:
        assert dashboard.live is None
        ensure_user(repo)
        import requests

        config = requests.get(dashboard.url + "api/live", headers=cookie_header(dashboard.url, "tester"),
                              timeout=TIMEOUT_S).json()
        assert config["source"] == "mediamtx" and config["whep"] == "http://{host}:8889/{camera}/whep"
        assert "url" not in config
    finally:
        dashboard.stop()


def test_annex_b_packets_become_length_prefixed_samples() -> None:
    sps, pps, idr = b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80", b"\x65" + b"\x00\x00\x03\x01" * 3
    packet = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps + b"\x00\x00\x00\x01" + idr
    sample = fmp4.sample_data(packet)
    units, at = [], 0
    while at < len(sample):
        size = int.from_bytes(sample[at:at + 4], "big")
        units.append(sample[at + 4:at + 4 + size])
        at += 4 + size
    assert units == [sps, pps, idr]
