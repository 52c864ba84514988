"""Live video on the wall in headless Chromium: a tile really plays its camera's RTSP stream (the frames carry
their capture time in pixels, read back from the <video>), a camera in a codec the browser cannot play keeps its
preview and says so, a hidden tab releases the camera's stream, and at most dashboard.live_tiles tiles play. The
worker's detection boxes are drawn over the live video."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from auth_testing import ensure_user, login_browser
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from alerts.repository import Repository
from bench.timecode_source import TIMECODE_JS, TimecodeCamera
from dashboard.server import DashboardServer
from gridwatch import boxes
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings, Settings
from gridwatch.types import CameraState, Detections, Frame
from tests.browser_testing import start_wall_screen

pytestmark = pytest.mark.browser

# Each wait: a loaded 2-core CI machine shows a tile's first live frame within ~3 s of the page; 60 s is wide.
WAIT_S = 60

_TILE = '.gw-cam[data-cam="{}"]'
_VIDEO = _TILE + " video.gw-cam-live"
# [ink on the box's left edge, ink in the box's middle] of a tile's overlay (the frame letterboxed in the canvas).
_BOX_INK_JS = """
var c = document.querySelector(arguments[0]), v = c.parentNode.querySelector('video');
if (!c.width || !v.videoWidth) { return null; }
var s = Math.min(c.width / v.videoWidth, c.height / v.videoHeight);
var fw = v.videoWidth * s, fh = v.videoHeight * s, ox = (c.width - fw) / 2, oy = (c.height - fh) / 2;
var ctx = c.getContext('2d');
function ink(x, y) { return ctx.getImageData(Math.round(x) - 1, Math.round(y) - 1, 3, 3).data.some(
  function (value, i) { return i % 4 === 3 && value > 0; }); }
return [ink(ox + 0.25 * fw, oy + 0.5 * fh), ink(ox + 0.5 * fw, oy + 0.5 * fh)];
"""


@pytest.fixture(scope="module")
def h264_camera() -> Iterator[TimecodeCamera]:
    with TimecodeCamera(codec="h264") as cam:
        yield cam


@pytest.fixture(scope="module")
def h265_camera() -> Iterator[TimecodeCamera]:
    with TimecodeCamera(codec="h265") as cam:
        yield cam


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_wall_screen(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def _camera(url: str, camera_id: str) -> CameraSettings:
    return CameraSettings.model_validate({"id": camera_id, "name": camera_id, "url": url})


def _wall(settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
          cameras: dict[str, CameraSettings]) -> DashboardServer:
    return DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0,
                           cameras=cameras.get).start()


def _open_wall(browser: webdriver.Chrome, dashboard: DashboardServer, repo: Repository) -> None:
    ensure_user(repo)
    login_browser(browser, dashboard.url, "tester")
    browser.get(dashboard.url)


def _until(browser: webdriver.Chrome, what: str, check: Callable[[webdriver.Chrome], Any]) -> Any:
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.2).until(check, f"waiting for {what}")


def _js(browser: webdriver.Chrome, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


def test_a_tile_plays_its_cameras_live_frames_and_an_unplayable_codec_keeps_the_preview(
    settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
    publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes], browser: webdriver.Chrome,
    h264_camera: TimecodeCamera, h265_camera: TimecodeCamera,
) -> None:
    publish_camera("cam-live", "Live street", preview=jpeg("bus.jpg"))
    publish_camera("cam-hevc", "H.265 camera", preview=jpeg("zidane.jpg"))
    dashboard = _wall(settings, repo, redis_client, redis_server,
                      {"cam-live": _camera(h264_camera.url, "cam-live"),
                       "cam-hevc": _camera(h265_camera.url, "cam-hevc")})
    try:
        _open_wall(browser, dashboard, repo)
        _until(browser, "the live tile to show video", lambda d: _js(
            d, "var t = document.querySelector(arguments[0]); return !!t && !!t.querySelector('.gw-live-on');",
            _TILE.format("cam-live")))
        video = _VIDEO.format("cam-live")
        # The picture is the camera's: its size, and the capture time the camera drew into it, read back from the
        # <video> itself, changes as it plays (the preview JPEG is another picture of another size).
        assert _js(browser, "var v = document.querySelector(arguments[0]); return [v.videoWidth, v.videoHeight];",
                   video) == [640, 360]
        _js(browser, TIMECODE_JS)
        start = _js(browser, "var v = document.querySelector(arguments[0]); "
                             "return [v.currentTime, readTimecode(v)];", video)
        assert start[1] is not None, "the frame on screen carries no time code: not the camera's picture"
        later = _until(browser, "playback to advance a second", lambda d: (lambda now: now if (
            now[0] >= start[0] + 1.0 and now[1] is not None and now[1] > start[1]) else None)(_js(
                d, "var v = document.querySelector(arguments[0]); return [v.currentTime, readTimecode(v)];", video)))
        assert later[1] > start[1]
        # A live tile's preview JPEG is hidden behind the video.
        assert _js(browser, "return getComputedStyle(document.querySelector(arguments[0])).visibility;",
                   _TILE.format("cam-live") + " img.gw-cam-img") == "hidden"

        # The worker's detection boxes (Redis pub/sub, published by centre.worker) are drawn over the frames
        # they were found in: the box's left edge has ink on the overlay, the middle of the box none.
        stop = threading.Event()

        def worker() -> None:
            frame = Frame("cam-live", 0, datetime.now(UTC), np.zeros((360, 640, 3), np.uint8))
            dets = Detections(np.array([[160, 90, 480, 270]], np.float32), np.array([0.9], np.float32),
                              np.array([0], np.int32), ("person",))
            while not stop.wait(0.1):
                redis_client.publish(boxes.channel("cam-live"),
                                     boxes.encode(replace(frame, captured_at=datetime.now(UTC)), dets))

        publisher = threading.Thread(target=worker, daemon=True)
        publisher.start()
        try:
            _until(browser, "the box drawn over the live video", lambda d: _js(d, _BOX_INK_JS, _TILE.format(
                "cam-live") + " canvas.gw-cam-boxes") == [True, False])
        finally:
            stop.set()
            publisher.join(5)

        # H.265: Chromium here cannot play it, so the tile keeps its preview and says why; no stream is held.
        notice = _until(browser, "the H.265 tile's notice", lambda d: _js(
            d, "var n = document.querySelector(arguments[0]); return n ? n.textContent : null;",
            _TILE.format("cam-hevc") + " .gw-live-notice"))
        assert "hvc1" in notice and "无实时视频" in notice
        _until(browser, "the H.265 tile's preview", lambda d: _js(
            d, "var i = document.querySelector(arguments[0]); return i.complete && i.naturalWidth > 0 && "
               "getComputedStyle(i).visibility === 'visible';", _TILE.format("cam-hevc") + " img.gw-cam-img"))
        live = dashboard.live
        assert live is not None
        _until(browser, "the H.265 camera's stream to be released", lambda _d: "cam-hevc" not in live.upstreams())

        # A hidden tab releases its streams (the server closes the camera's connection) and takes them back.
        _js(browser, "Object.defineProperty(document, 'hidden', {configurable: true, get: function () "
                     "{ return true; }}); document.dispatchEvent(new Event('visibilitychange'));")
        _until(browser, "the hidden tab's streams to be closed", lambda _d: live.upstreams() == {})
        _js(browser, "Object.defineProperty(document, 'hidden', {configurable: true, get: function () "
                     "{ return false; }}); document.dispatchEvent(new Event('visibilitychange'));")
        _until(browser, "the tile to play again", lambda d: _js(
            d, "var t = document.querySelector(arguments[0]); return !!t.querySelector('.gw-live-on');",
            _TILE.format("cam-live")))
    finally:
        dashboard.stop()


def test_at_most_live_tiles_play_and_the_others_keep_the_preview(
    settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
    publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes], browser: webdriver.Chrome,
    h264_camera: TimecodeCamera,
) -> None:
    publish_camera("cam-a", "Camera A", preview=jpeg("bus.jpg"))
    publish_camera("cam-b", "Camera B", preview=jpeg("zidane.jpg"))
    board = settings.dashboard.model_copy(update={"live_tiles": 1})
    one_live = settings.model_copy(update={"dashboard": board})
    dashboard = _wall(one_live, repo, redis_client, redis_server,
                      {cid: _camera(h264_camera.url, cid) for cid in ("cam-a", "cam-b")})
    try:
        _open_wall(browser, dashboard, repo)
        playing = _until(browser, "one tile to play live", lambda d: _js(
            d, "return Array.from(document.querySelectorAll('.gw-cam-video.gw-live-on')).map(function (b) "
               "{ return b.closest('.gw-cam').getAttribute('data-cam'); });"))
        other = "cam-b" if playing == ["cam-a"] else "cam-a"
        # The other tile shows its preview JPEG (it is polled while the first tile plays) ...
        _until(browser, "the other tile's preview", lambda d: _js(
            d, "var i = document.querySelector(arguments[0]); return i.complete && i.naturalWidth > 0 && "
               "i.src.indexOf('/video/') >= 0;", _TILE.format(other) + " img.gw-cam-img"))
        # ... and by then (several of live.js's half-second scans) no second player was started.
        assert _js(browser, "return document.querySelectorAll('video.gw-cam-live').length;") == 1
        live = dashboard.live
        assert live is not None and list(live.upstreams()) == playing
    finally:
        dashboard.stop()


def test_a_camera_the_server_cannot_relay_gives_its_live_slot_to_another(
    settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
    publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes], browser: webdriver.Chrome,
    h264_camera: TimecodeCamera,
) -> None:
    # Both online on the wall; only cam-b is in the dashboard's camera registry (cam-0 was removed meanwhile). cam-0
    # comes first by id and by name, so it is the tile that takes the only slot first.
    publish_camera("cam-0", "A removed camera", preview=jpeg("bus.jpg"))
    publish_camera("cam-b", "B camera", preview=jpeg("zidane.jpg"))
    board = settings.dashboard.model_copy(update={"live_tiles": 1})
    dashboard = _wall(settings.model_copy(update={"dashboard": board}), repo, redis_client, redis_server,
                      {"cam-b": _camera(h264_camera.url, "cam-b")})
    try:
        _open_wall(browser, dashboard, repo)
        _until(browser, "cam-b to play in the only live slot", lambda d: _js(
            d, "var t = document.querySelector(arguments[0]); return !!t && !!t.querySelector('.gw-live-on');",
            _TILE.format("cam-b")))
        assert _js(browser, "return document.querySelectorAll(arguments[0]).length;", _VIDEO.format("cam-0")) == 0
    finally:
        dashboard.stop()
