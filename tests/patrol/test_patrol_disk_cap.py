"""The car's disk fills up: the oldest segments go first, counted and logged, and the car keeps recording."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from patrol.agent import PatrolAgent
from patrol.relay import PerlRtspRelay
from tests.patrol.centre_server import CentreServer
from tests.patrol.conftest import car_settings, wait_for

CAP_MB = 0.15  # ~6 one-second segments of the ~190 kbit/s clip


def test_disk_cap_drops_oldest_segments_and_keeps_recording(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer, car_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = car_settings(tmp_path, relay, centre.url, [{"id": "front", "source": str(car_clip)}],
                            recording={"segment_dir": tmp_path / "segments", "segment_seconds": 1,
                                       "disk_cap_mb": CAP_MB})
    caplog.set_level(logging.WARNING, logger="patrol.segments")
    agent = PatrolAgent(settings).start()
    try:
        wait_for(lambda: agent.segments.segments(), 10, "the first segment")
        oldest = agent.segments.segments()[0].path
        wait_for(lambda: agent.segments.dropped >= 3, 30, "the disk cap to drop segments")
        written_at_drop = agent.health()["cameras"][0]["segments_written"]
        wait_for(lambda: agent.health()["cameras"][0]["segments_written"] >= written_at_drop + 2, 10,
                 "recording to go on past the cap")
        time.sleep(0.2)
        health = agent.health()
    finally:
        agent.stop()
    assert not oldest.exists()
    seg = health["segments"]
    assert seg["dropped"] >= 3 and seg["last_dropped"].startswith("front/")
    assert seg["bytes"] <= seg["cap_bytes"]
    assert health["running"] and health["cameras"][0]["recording"] and health["cameras"][0]["record_errors"] == 0
    kept = agent.segments.segments()
    assert kept and all(s.path.name > oldest.name for s in kept)  # names start with the capture time
    assert kept[-1].end.timestamp() > time.time() - 5  # the newest video is what is kept
    drops = [r for r in caplog.records if "disk cap" in r.getMessage()]
    assert len(drops) >= 3 and "dropped the oldest segment front/" in drops[0].getMessage()
