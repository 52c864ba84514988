"""Alert clips play cleanly: FFmpeg's own decoder reads them without a single warning, from a keyframe on.

Two real cameras: the shared street camera (H.264 without B-frames) and one whose encoder uses B-frames (the
Intel clip, served as it is), where RTSP presentation times go back and forth in decode order.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import av
import pytest

from demo.server import RtspTestServer
from gridwatch.settings import IngestSettings
from gridwatch.types import CameraStatus
from ingest.reader import CameraReader
from ingest.recorder import Recorder
from tests.ingest.conftest import camera, recording_settings, wait_for

INGEST = IngestSettings(detect_fps=5, stall_seconds=3, reconnect_max_seconds=2, open_timeout_seconds=5)


@pytest.fixture(scope="module")
def b_frame_camera(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    """A camera streaming H.264 with B-frames (stream copy of the file), recorded like any other."""
    clip = shared_dir / "video" / "intel_one-by-one-person-detection.mp4"
    with av.open(str(clip)) as c:
        assert c.streams.video[0].codec_context.has_b_frames, "the clip is meant to have B-frames"
    recorder = Recorder(recording_settings(), tmp_path_factory.mktemp("media-b"))
    with RtspTestServer(clip) as server:
        reader = CameraReader(camera(server.url, "bframes"), INGEST, packets=recorder.buffer("bframes")).start()
        try:
            wait_for(lambda: reader.state().status is CameraStatus.ONLINE, 30, "the B-frame camera ONLINE")
            yield recorder
        finally:
            reader.stop()


def clip_of(recorder: Recorder, camera_id: str, tmp_path: Path) -> Path:
    """A 4 s alert clip (2 s before, 2 s after) out of the buffered video: it crosses GOP boundaries."""
    buf = recorder.get(camera_id)
    assert buf is not None
    wait_for(lambda: (s := buf.span()) is not None and (s[1] - s[0]).total_seconds() >= 6, 60, "6 s of video")
    span = buf.span()
    assert span is not None
    at = span[1] - timedelta(seconds=3)
    return recorder.clip(camera_id, at - timedelta(seconds=2), at + timedelta(seconds=2),
                         path=tmp_path / f"{camera_id}.mp4", timeout=10)


@pytest.mark.parametrize("camera_id", ["rec-1", "bframes"])
def test_ffmpeg_decodes_the_alert_clip_without_a_warning(
    camera_id: str, recorded_camera: Recorder, b_frame_camera: Recorder, tmp_path: Path
) -> None:
    recorder = recorded_camera if camera_id == "rec-1" else b_frame_camera
    path = clip_of(recorder, camera_id, tmp_path)
    decoded = subprocess.run(["ffmpeg", "-nostdin", "-v", "warning", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0 and decoded.stderr == "", decoded.stderr
    with av.open(str(path)) as c:
        packets = [p for p in c.demux(c.streams.video[0]) if p.size]
        fps = float(c.streams.video[0].average_rate or 0)
    with av.open(str(path)) as c:
        frames = list(c.decode(c.streams.video[0]))
    dts = [p.dts or 0 for p in packets]
    assert all(a < b for a, b in zip(dts, dts[1:], strict=False)), dts  # decode times only go forward
    assert packets[0].is_keyframe
    # The first picture a player shows is the keyframe the clip starts on (no green, smeared leftovers of an
    # earlier GOP), and every packet in the file becomes a picture.
    assert frames[0].key_frame and frames[0].pts == min(p.pts or 0 for p in packets)
    assert len(frames) == len(packets) >= 3.5 * fps  # about 4 s of video
    pts = [f.pts or 0 for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)  # shown in order, each at its own time
