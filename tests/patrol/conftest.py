"""Patrol fixtures: a real RTSP relay that accepts publishing, a real HTTP command centre, car settings."""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import redis

from gridwatch.settings import Settings
from patrol.relay import PerlRtspRelay
from patrol.settings import PatrolSettings, load_patrol_settings
from tests.patrol.centre_server import CentreServer

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long_cut: the 60 s link cut (GRIDWATCH_PATROL_LONG=1 runs it)")


def need_binary(path: str, package: str) -> None:
    if shutil.which(path) is None and not Path(path).exists():
        msg = f"{path} missing: apt-get install {package} (scripts/bootstrap.sh does)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture()
def relay() -> Iterator[PerlRtspRelay]:
    need_binary("/usr/share/perl5/RTSP/Server.pm", "librtsp-server-perl")
    with PerlRtspRelay() as r:
        yield r


@pytest.fixture()
def centre(redis_client: redis.Redis, settings: Settings) -> Iterator[CentreServer]:
    server = CentreServer(redis_client, settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def car_clip(shared_dir: Path) -> Path:
    """768x432, 10 fps, a keyframe every second, ~190 kbit/s: a cheap, realistic car camera."""
    return shared_dir / "video" / "intel_one-by-one-person-detection.mp4"


def car_settings(tmp: Path, relay: PerlRtspRelay, centre_url: str, cameras: list[dict[str, Any]],
                 **extra: Any) -> PatrolSettings:
    values: dict[str, Any] = {
        "vehicle_id": "zz-a1234", "crew": ["Li Wei", "Zhang Min"], "shift": "2026-11-24-day",
        "relay_url": relay.publish_url, "relay_transport": "udp", "centre_url": centre_url,
        "state_dir": tmp / "state", "cameras": cameras,
        "recording": {"segment_dir": tmp / "segments", "segment_seconds": 2, "disk_cap_mb": 200},
        "gps": {"source": "simulated", "interval_seconds": 1},
        "uplink": {"batch_seconds": 1, "retry_seconds": 1},
        "segments_api": {"port": 0},
    }
    values.update(extra)
    return load_patrol_settings(None, **values)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def read_relay(url: str, frames: int = 5, timeout: float = 60.0) -> list[av.VideoFrame]:
    """Decoded frames from the relay (UDP, as the Perl relay serves); retried until ``timeout``.

    A second or two on a quiet machine; 60 s is the ceiling for a loaded one, and a passing read returns at once."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with av.open(url, options={"rtsp_transport": "udp", "timeout": "3000000"}, timeout=5) as c:
                got = []
                for f in c.decode(video=0):
                    got.append(f)
                    if len(got) >= frames:
                        return got
        except (av.error.FFmpegError, OSError, StopIteration) as exc:
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"no video from {url} within {timeout:.0f} s: {last}")
