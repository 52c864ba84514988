"""The test relay (patrol.relay.PerlRtspRelay) on a machine with other relays: a car that publishes again after
its first stream ended must get through on every relay at once (CI runs a second copy of the suite beside this one)."""
from __future__ import annotations

from pathlib import Path

from patrol.agent import PatrolAgent
from patrol.relay import PerlRtspRelay
from tests.patrol.centre_server import CentreServer
from tests.patrol.conftest import car_settings, need_binary, read_relay


def test_two_relays_carry_cars_that_published_before_at_the_same_time(
    tmp_path: Path, centre: CentreServer, car_clip: Path
) -> None:
    need_binary("/usr/share/perl5/RTSP/Server.pm", "librtsp-server-perl")
    with PerlRtspRelay() as one, PerlRtspRelay() as two:
        relays = (one, two)
        # A first drive each: the car publishes, then leaves, so each relay has had its last mount go.
        for n, relay in enumerate(relays):
            first = PatrolAgent(car_settings(tmp_path / f"first-{n}", relay, centre.url,
                                             [{"id": "front", "source": str(car_clip)}])).start()
            try:
                read_relay(relay.read_url("zz-a1234/front"), frames=2)
            finally:
                first.stop()
        # Both at once now: before the fix both relays took their RTP listeners from port 20000 after their
        # first mount went, so the second could not start its car's stream (and refused it with 403 after).
        agents = [PatrolAgent(car_settings(tmp_path / f"again-{n}", relay, centre.url,
                                           [{"id": "front", "source": str(car_clip)}])).start()
                  for n, relay in enumerate(relays)]
        try:
            got = [read_relay(relay.read_url("zz-a1234/front"), frames=3) for relay in relays]
        finally:
            for agent in agents:
                agent.stop()
    assert all(len(frames) == 3 and frames[-1].width == 768 for frames in got)
