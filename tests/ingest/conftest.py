"""Ingest fixtures: a real GStreamer RTSP server looping a shared clip, and camera settings with short waits."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridwatch.settings import CameraSettings, IngestSettings
from ingest.demo_server import RtspTestServer

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
