"""A camera that sends each keyframe as several slices, each behind its own SPS/PPS (sliced-thread encoders,
GStreamer's payloader): vision, clips and the decoder must see whole pictures, never a keyframe's first slice
alone with the rest of the picture filled in by the decoder (the green "half pictures").

Real parts: a clip encoded with x264 sliced threads, served by the GStreamer RTSP server by stream copy, read by
FFmpeg's RTSP demuxer and by ``CameraReader``.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from demo.server import RtspTestServer
from gridwatch.settings import IngestSettings
from ingest.pictures import PictureJoiner, first_slice_continues, whole_pictures
from ingest.reader import CameraReader
from tests.ingest.conftest import camera

SIZE = (640, 368)
BANDS = [(220, 40, 40), (40, 200, 40), (40, 40, 220), (230, 230, 40)]  # RGB, top to bottom
BOTTOM = np.array(BANDS[-1], dtype=np.float64)


def _picture(i: int) -> npt.NDArray[np.uint8]:
    img = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    band = SIZE[1] // len(BANDS)
    for b, colour in enumerate(BANDS):
        img[b * band:(b + 1) * band] = colour
    img[10:40, (i * 8) % 600:(i * 8) % 600 + 30] = 255  # something moves, so every picture carries slices
    return img


@pytest.fixture(scope="module")
def sliced_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sliced") / "sliced.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.thread_count, stream.thread_type = 4, "SLICE"  # one slice per thread: 4 slices a picture
        stream.codec_context.options = {"x264-params": "keyint=25:min-keyint=25:scenecut=0:bframes=0"}
        for i in range(50):
            for p in stream.encode(av.VideoFrame.from_ndarray(_picture(i), format="rgb24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def server(sliced_clip: Path) -> Iterator[RtspTestServer]:
    with RtspTestServer(sliced_clip, width=None) as srv:
        yield srv


def _bottom_ok(rgb: npt.NDArray[np.uint8]) -> bool:
    """The picture's bottom band has its own colour (a half picture shows the decoder's green fill there)."""
    bottom = rgb[-60:].reshape(-1, 3).mean(axis=0)
    return bool(np.abs(bottom - BOTTOM).max() < 30)


def test_the_camera_really_splits_its_keyframes(server: RtspTestServer) -> None:
    """The premise, checked on the wire: without joining, a keyframe arrives as several packets of one time,
    and the first of them decodes to a half picture."""
    with av.open(server.url, options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as c:
        stream = c.streams.video[0]
        times: list[int | None] = []
        half = 0
        for p in c.demux(stream):
            if p.size == 0:
                continue
            times.append(p.pts)
            half += sum(not _bottom_ok(f.to_ndarray(format="rgb24")) for f in stream.decode(p))
            if len(times) >= 40:
                break
    repeated = len(times) - len(set(times))
    assert repeated >= 2 and half >= 1, (times, half)


def test_joined_packets_decode_to_whole_pictures_one_per_time(server: RtspTestServer) -> None:
    with av.open(server.url, options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as c:
        stream = c.streams.video[0]
        times: list[int | None] = []
        keyframes = 0
        for p in whole_pictures(c.demux(stream), stream.codec_context.name):
            if p.size == 0:
                continue
            times.append(p.pts)
            keyframes += bool(p.is_keyframe)
            for f in stream.decode(p):
                assert _bottom_ok(f.to_ndarray(format="rgb24")), f"a half picture at pts {p.pts}"
            if len(times) >= 60:  # 2.4 s: at least two keyframes (one a second)
                break
    assert keyframes >= 2
    assert len(times) == len(set(times)), "two packets with one time: a picture still split"


def test_the_reader_hands_vision_whole_pictures(server: RtspTestServer) -> None:
    ingest = IngestSettings(detect_fps=25, stall_seconds=5, reconnect_max_seconds=2, open_timeout_seconds=5)
    reader = CameraReader(camera(server.url, "sliced"), ingest).start()
    try:
        seen = 0
        last = -1
        deadline = time.monotonic() + 60  # ~3 s of video (3 keyframes) on an idle machine; loaded, far more
        while seen < 75 and time.monotonic() < deadline:
            frame = reader.wait_latest(after_seq=last, timeout=5)
            if frame is None:
                continue
            last = frame.seq
            seen += 1
            assert _bottom_ok(frame.image[:, :, ::-1]), f"vision got a half picture (frame {frame.seq})"
        assert seen >= 75, f"only {seen} frames in 60 s"
    finally:
        reader.stop()


def test_first_slice_continues_reads_the_slice_header() -> None:
    idr_start = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x88\x84"
    idr_later = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x01\x9a"
    p_later = b"\x00\x00\x01\x41\x1a\x22"
    assert not first_slice_continues(idr_start)  # first_mb_in_slice = 0: the first bit after the header is 1
    assert first_slice_continues(idr_later) and first_slice_continues(p_later)
    assert not first_slice_continues(b"\x00\x00\x00\x10\x65\x01")  # length-prefixed (MP4): never joined


def test_other_codecs_pass_through_untouched() -> None:
    packet = av.Packet(b"\x00\x00\x01\x65\x01\x9a")
    assert PictureJoiner("hevc").push(packet) == [packet]


def test_the_live_relay_sends_one_fragment_per_picture(server: RtspTestServer) -> None:
    """The wall's live video (stream copy into fragmented MP4): one fragment per picture, times always growing —
    a split keyframe would be several fragments of one time, which Media Source Extensions refuses."""
    from dashboard.live_relay import CameraRelay, Piece

    pieces: list[Piece] = []
    relay = CameraRelay("sliced", lambda: server.url, lambda init: None, pieces.append).start()
    try:
        deadline = time.monotonic() + 60
        while sum(p.key for p in pieces) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        relay.stop()
    times = [p.media_time for p in pieces]
    keys = [i for i, p in enumerate(pieces) if p.key]
    assert len(keys) >= 3, f"{len(pieces)} fragments in 60 s"
    assert all(b > a for a, b in zip(times, times[1:], strict=False)), times[:30]
    # The clip has a keyframe every 25 pictures: 25 fragments from one keyframe to the next, not 25 + 3 slices.
    assert [b - a for a, b in zip(keys, keys[1:], strict=False)] == [25] * (len(keys) - 1)
