"""What goes live: the camera's H.264 untouched, or a smaller capped substream; local segments stay full quality."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from demo.server import RtspTestServer
from patrol.agent import PatrolAgent
from patrol.relay import PerlRtspRelay
from tests.patrol.centre_server import CentreServer
from tests.patrol.conftest import car_settings, read_relay, wait_for


def first_segment(agent: PatrolAgent) -> av.VideoFrame:
    wait_for(lambda: agent.segments.segments(), 15, "a finished local segment")
    with av.open(str(agent.segments.segments()[0].path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        return next(c.decode(video=0))


def test_camera_over_the_bitrate_cap_goes_live_as_a_smaller_substream_and_records_full_size(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer, car_clip: Path
) -> None:
    # The clip opens at ~115 kbit/s: over a 60 kbit/s cap, auto mode sends the substream.
    settings = car_settings(tmp_path, relay, centre.url, [{"id": "front", "source": str(car_clip)}],
                            live={"mode": "auto", "width": 320, "bitrate_kbps": 60})
    agent = PatrolAgent(settings).start()
    try:
        frames = read_relay(relay.read_url(f"{settings.vehicle_id}/front"), frames=10)
        local = first_segment(agent)
        health = agent.health()["cameras"][0]
    finally:
        agent.stop()
    assert health["live_mode"] == "substream" and health["source_kbps"] > 60
    assert (frames[-1].width, frames[-1].height) == (320, 180)
    assert (local.width, local.height) == (768, 432)


def test_rtsp_camera_is_relayed_without_re_encoding(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer, car_clip: Path
) -> None:
    with RtspTestServer(car_clip, width=1280) as camera:
        with av.open(camera.url, options={"rtsp_transport": "tcp"}, timeout=10) as c:
            camera_sps = bytes(c.streams.video[0].codec_context.extradata or b"")
        settings = car_settings(tmp_path, relay, centre.url, [{"id": "dash", "source": camera.url}])
        agent = PatrolAgent(settings).start()
        try:
            url = relay.read_url(f"{settings.vehicle_id}/dash")
            read_relay(url, frames=3)
            with av.open(url, options={"rtsp_transport": "udp"}, timeout=10) as c:
                relayed_sps = bytes(c.streams.video[0].codec_context.extradata or b"")
            local = first_segment(agent)
            health = agent.health()["cameras"][0]
        finally:
            agent.stop()
    # The same SPS/PPS as the camera's: the relay got the camera's own bitstream, not a re-encode.
    assert camera_sps and _nal_units(relayed_sps) == _nal_units(camera_sps)
    assert health["live_mode"] == "copy" and health["source"] == camera.url
    assert local.width == 768


def _nal_units(extradata: bytes) -> set[bytes]:
    """SPS/PPS units from Annex B or avcC extradata, whatever container framing was used."""
    if extradata[:1] == b"\x01":  # avcC
        units, n, i = set(), extradata[5] & 0x1F, 6
        for _ in range(n):
            size = int.from_bytes(extradata[i:i + 2], "big")
            units.add(extradata[i + 2:i + 2 + size])
            i += 2 + size
        for _ in range(extradata[i]):
            size = int.from_bytes(extradata[i + 1:i + 3], "big")
            units.add(extradata[i + 3:i + 3 + size])
            i += 2 + size
        return units
    return {u.lstrip(b"\x00") for u in extradata.split(b"\x00\x00\x01") if u.strip(b"\x00")}


def test_camera_without_h264_is_encoded_once_for_recording_and_live(
    tmp_path: Path, relay: PerlRtspRelay, centre: CentreServer
) -> None:
    clip = tmp_path / "usb-like.avi"  # MJPEG, as many USB cameras deliver
    with av.open(str(clip), "w") as out:
        s = out.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 320, 240, "yuvj420p"
        for i in range(30):
            img = np.full((240, 320, 3), (i * 8) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for pkt in s.encode(frame):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    settings = car_settings(tmp_path, relay, centre.url, [{"id": "usb", "source": str(clip)}])
    agent = PatrolAgent(settings).start()
    try:
        frames = read_relay(relay.read_url(f"{settings.vehicle_id}/usb"), frames=3)
        local = first_segment(agent)
    finally:
        agent.stop()
    assert frames[0].width == 320 and local.width == 320
