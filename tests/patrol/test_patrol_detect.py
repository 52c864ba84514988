"""A car camera's detection stream: published beside the main stream at ``<path>-detect`` for the command
centre's ``detect_url`` (issue 15): the camera's own sub-stream as it comes, or one the car encodes."""
from __future__ import annotations

from pathlib import Path

import pytest

from demo.server import RtspTestServer
from patrol.agent import PatrolAgent
from patrol.relay import PerlRtspRelay
from patrol.settings import PatrolSettingsError
from tests.patrol.centre_server import CentreServer
from tests.patrol.conftest import car_settings, read_relay


def test_a_camera_without_a_sub_stream_gets_one_encoded_by_the_car(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer, car_clip: Path
) -> None:
    settings = car_settings(tmp_path, relay, centre.url,
                            [{"id": "front", "source": str(car_clip), "detect_encode": True, "detect_width": 320}])
    agent = PatrolAgent(settings).start()
    try:
        main = read_relay(relay.read_url(f"{settings.vehicle_id}/front"), frames=3)
        detect = read_relay(relay.read_url(f"{settings.vehicle_id}/front-detect"), frames=3)
    finally:
        agent.stop()
    assert (main[-1].width, main[-1].height) == (768, 432)  # the main stream still goes as it comes
    assert (detect[-1].width, detect[-1].height) == (320, 180)


def test_a_camera_with_its_own_sub_stream_publishes_it_beside_the_main_one(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer, car_clip: Path
) -> None:
    with RtspTestServer(car_clip, width=768, sub_mount="/sub", sub_width=384) as camera:
        settings = car_settings(tmp_path, relay, centre.url,
                                [{"id": "dash", "source": camera.url, "detect_source": camera.sub_url}])
        agent = PatrolAgent(settings).start()
        try:
            main = read_relay(relay.read_url(f"{settings.vehicle_id}/dash"), frames=3)
            detect = read_relay(relay.read_url(f"{settings.vehicle_id}/dash-detect"), frames=3)
        finally:
            agent.stop()
    assert (main[-1].width, main[-1].height) == (768, 432)
    assert (detect[-1].width, detect[-1].height) == (384, 216)


def test_own_and_encoded_detection_streams_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(PatrolSettingsError, match="detect_source and detect_encode"):
        car_settings(tmp_path, PerlRtspRelay(), "http://127.0.0.1:1",
                     [{"id": "x", "source": "rtsp://cam/main", "detect_source": "rtsp://cam/sub",
                       "detect_encode": True}])
