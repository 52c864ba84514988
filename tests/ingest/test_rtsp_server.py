"""The demo RTSP server: a real GStreamer server that serves the clip as 720p H.264, for ever."""
from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from demo.server import RtspServerError, RtspTestServer, rtsp_describe


def clip_frames(clip: Path, size: tuple[int, int]) -> list[np.ndarray]:
    with av.open(str(clip)) as c:
        return [cv2.resize(f.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA)
                for f in c.decode(video=0)]


def test_stream_shows_the_clip_at_720p_and_keeps_going_past_its_end(
    rtsp_server: RtspTestServer, street_clip: Path
) -> None:
    assert rtsp_server.url == f"rtsp://127.0.0.1:{rtsp_server.port}/demo"
    sdp = rtsp_describe("127.0.0.1", rtsp_server.port, "/demo")
    assert sdp is not None and "m=video" in sdp and "H264" in sdp
    originals = clip_frames(street_clip, (1280, 720))
    clip_seconds = len(originals) / 25
    started = time.monotonic()
    pts: list[float] = []
    with av.open(rtsp_server.url, options={"rtsp_transport": "tcp", "analyzeduration": "100000"},
                 timeout=(10, 5)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            assert (frame.width, frame.height) == (1280, 720)
            if frame.time is not None:
                pts.append(frame.time)
            if i == 30:
                # The picture is the clip (after a lossy re-encode): some clip frame matches closely.
                img = frame.to_ndarray(format="bgr24").astype(np.int16)
                best = min(float(np.abs(img - o).mean()) for o in originals)
                assert best < 6.0, f"streamed picture differs from every clip frame (mean abs diff {best:.1f})"
            if time.monotonic() - started > clip_seconds + 1.5:
                break
    # Read for longer than the clip: frames keep coming and timestamps never jump back at the loop point.
    assert len(pts) > 25 * clip_seconds
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))


def test_a_missing_or_broken_video_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RtspServerError, match="not found"):
        RtspTestServer(tmp_path / "missing.mp4").start()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 1000)
    server = RtspTestServer(broken)
    with pytest.raises(RtspServerError, match="exited with status") as err:
        server.start(timeout=10)
    assert "broken.mp4" in str(err.value)
    assert not server.running


def test_stop_shuts_the_server_down(street_clip: Path) -> None:
    with RtspTestServer(street_clip) as server:
        assert server.running and server.pid is not None
        port = server.port
    assert not server.running and server.returncode == 0  # it exits cleanly on SIGTERM
    assert rtsp_describe("127.0.0.1", port, "/demo", timeout=1) is None
