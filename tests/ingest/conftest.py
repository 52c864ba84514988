"""Ingest fixtures: a real GStreamer RTSP server looping a shared clip, and camera settings with short waits."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.server import RtspTestServer
from gridwatch.settings import CameraSettings, IngestSettings, RecordingSettings
from gridwatch.types import CameraStatus
from ingest.reader import CameraReader
from ingest.recorder import Recorder

# Demo grid map box the simulated car must stay inside (see gridwatch.settings.DEMO_GRIDS).
ROUTE_BOX = (34.772, 34.798, 113.662, 113.718)


@pytest.fixture(scope="session")
def street_clip(shared_dir: Path) -> Path:
    """1920x1080, 25 fps, 96 frames (3.84 s): short enough that a few seconds of reading crosses the loop."""
    return shared_dir / "video" / "towncentre_street_pedestrians_1080p.mp4"


@pytest.fixture(scope="session")
def rtsp_server(street_clip: Path) -> Iterator[RtspTestServer]:
    """One shared server (served as 1280x720) for the tests that only read from it."""
    with RtspTestServer(street_clip, width=1280) as server:
        yield server


@pytest.fixture()
def fast_ingest() -> IngestSettings:
    return IngestSettings(detect_fps=5, stall_seconds=2, reconnect_max_seconds=2, open_timeout_seconds=3)


def camera(url: str, camera_id: str = "car-1", **extra: object) -> CameraSettings:
    return CameraSettings.model_validate({"id": camera_id, "name": f"Patrol {camera_id}", "url": url, **extra})


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def recording_settings(**extra: object) -> RecordingSettings:
    values: dict[str, object] = {"buffer_seconds": 8, "pre_seconds": 2, "post_seconds": 2, "clip_timeout_seconds": 5}
    values.update(extra)
    return RecordingSettings.model_validate(values)


@pytest.fixture(scope="module")
def recorded_camera(rtsp_server: RtspTestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    """A reader on the shared server feeding a Recorder (8 s buffer); the camera id is ``rec-1``."""
    recorder = Recorder(recording_settings(), tmp_path_factory.mktemp("media"))
    ingest = IngestSettings(detect_fps=5, stall_seconds=2, reconnect_max_seconds=2, open_timeout_seconds=3)
    reader = CameraReader(camera(rtsp_server.url, "rec-1"), ingest, packets=recorder.buffer("rec-1")).start()
    try:
        wait_for(lambda: reader.state().status is CameraStatus.ONLINE, 15, "the recorded camera to be ONLINE")
        # A clip asked for right away needs its pre-roll already buffered: wait until 5 s are (pre-roll 2 s, the
        # request 1 s in the past, up to a GOP before it), not for a fixed time (a loaded machine connects late).
        wait_for(lambda: _buffered_seconds(recorder, "rec-1") >= 5, 30, "5 s of the recorded camera buffered")
        yield recorder
    finally:
        reader.stop()


def _buffered_seconds(recorder: Recorder, camera_id: str) -> float:
    buf = recorder.get(camera_id)
    span = buf.span() if buf is not None else None
    return 0.0 if span is None else (span[1] - span[0]).total_seconds()


def keyframe_gap(recorder: Recorder, camera_id: str) -> float:
    """Longest distance between two buffered keyframes (the stream's GOP), in seconds."""
    buf = recorder.get(camera_id)
    assert buf is not None
    _, packets = buf.select(0, time.time() + 60)
    keys = [p.wall for p in packets if p.key]
    assert len(keys) >= 2, "need two keyframes to measure the GOP"
    return max(b - a for a, b in zip(keys, keys[1:], strict=False))
