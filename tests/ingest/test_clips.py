"""Clips for alerts: requested without blocking, written by stream copy, and played by headless Chromium."""
from __future__ import annotations

import functools
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from ingest.clips import ClipService
from ingest.recorder import ClipError, Recorder
from tests.browser_testing import start_chromium
from tests.ingest.conftest import keyframe_gap, recording_settings

PAGE = """<!doctype html><html><body>
<video id="v" src="{src}" muted playsinline preload="auto" width="640"></video>
</body></html>"""


@pytest.fixture()
def clips(recorded_camera: Recorder) -> Iterator[ClipService]:
    service = ClipService(recorded_camera, recorded_camera.clips_dir.parent, recording_settings()).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--autoplay-policy=no-user-gesture-required")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture()
def media_server(recorded_camera: Recorder) -> Iterator[str]:
    """The media folder over HTTP (with range requests, as browsers fetch video), like /media/ on the wall."""
    root = recorded_camera.clips_dir.parent
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def test_request_returns_at_once_and_the_clip_follows(recorded_camera: Recorder, clips: ClipService) -> None:
    alert_id = uuid.uuid4().hex
    at = datetime.now(UTC)
    asked = time.monotonic()
    future = clips.request(alert_id, "rec-1", at)
    # The vision loop is never held up: a request that waited for its clip would take the 2 s post-roll; 1 s leaves
    # a loaded machine's scheduling delays room.
    assert time.monotonic() - asked < 1.0
    assert not future.done() and clips.pending == 1
    path = future.result(timeout=15)
    assert time.time() >= (at + timedelta(seconds=2)).timestamp()  # it waited for the post-roll
    assert path == recorded_camera.clips_dir.parent / ClipService.relative_path(alert_id, at)
    assert path.relative_to(recorded_camera.clips_dir.parent).as_posix() == f"clips/{at:%Y/%m/%d}/{alert_id}.mp4"


def test_failed_requests_say_why(clips: ClipService) -> None:
    missing = clips.request("a1", "no-such-camera", datetime.now(UTC) - timedelta(seconds=5))
    with pytest.raises(ClipError, match="'no-such-camera' is not recorded"):
        missing.result(timeout=5)
    with pytest.raises(ValueError, match="cannot name a clip file"):
        clips.request("../../etc/passwd", "rec-1", datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        clips.request("a2", "rec-1", datetime(2026, 11, 24, 8, 0))


@pytest.mark.browser
def test_alert_clip_plays_in_chromium_for_the_requested_span(
    recorded_camera: Recorder, clips: ClipService, media_server: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    alert_id = uuid.uuid4().hex
    at = datetime.now(UTC) - timedelta(seconds=1)
    path = clips.request(alert_id, "rec-1", at).result(timeout=15)
    rel = ClipService.relative_path(alert_id, at)
    page = recorded_camera.clips_dir.parent / "play.html"
    page.write_text(PAGE.format(src=f"/{rel}"), encoding="utf-8")
    browser.get(f"{media_server}/play.html")
    wait = WebDriverWait(browser, 20)
    # HAVE_ENOUGH_DATA (4): Chromium has parsed the MP4 and decoded the H.264 ahead of playback.
    wait.until(lambda d: d.execute_script("const v = document.getElementById('v');"
                                          "return v.error !== null || v.readyState >= 4;"))
    error = browser.execute_script("const e = document.getElementById('v').error; return e && [e.code, e.message];")
    assert error is None, f"Chromium cannot play the clip: {error}"
    info = browser.execute_script(
        "const v = document.getElementById('v');"
        "return {duration: v.duration, width: v.videoWidth, height: v.videoHeight, ready: v.readyState};"
    )
    assert (info["width"], info["height"]) == (1280, 720)
    # It really plays: the playhead moves.
    browser.execute_script("document.getElementById('v').play();")
    wait.until(lambda d: d.execute_script("return document.getElementById('v').currentTime > 0.5;"))
    assert browser.execute_script("return document.getElementById('v').error;") is None
    # The requested span is pre + post = 4 s; the clip may start up to one GOP early (on a keyframe).
    gop = keyframe_gap(recorded_camera, "rec-1")
    assert 4.0 - 0.1 <= info["duration"] <= 4.0 + gop + 0.1, info
    with av.open(str(path)) as c:
        assert abs(float(c.duration or 0) / 1_000_000 - info["duration"]) < 0.1
