"""The demo server plays its clip on the wall clock when given an epoch (the demo lap's video and GPS agree).

`gridwatch run` passes the lap's epoch to the server; a server that ignored it started the clip whenever a reader
connected, so the park reached vision 2-20 s away from where the car's GPS put it, and one problem became several
cases along the street.
"""
from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from demo.server import RtspTestServer

FPS = 25
HALF_S = 4  # black for 4 s, then white for 4 s: an 8 s lap


def _two_tone_clip(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        # One slice per picture and a keyframe every second, as the demo's own clips are made.
        stream.codec_context.options = {"x264-params": "keyint=25:min-keyint=25:scenecut=0:sliced-threads=0"}
        stream.thread_count = 1
        for i in range(2 * HALF_S * FPS):
            level = 0 if i < HALF_S * FPS else 255
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), level, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_the_clip_plays_on_the_wall_clock_from_its_epoch(tmp_path: Path) -> None:
    clip = _two_tone_clip(tmp_path / "two_tone.mp4")
    # A reader connects 4-6 s into a lap (the server's start takes 1-3 s): had the server ignored the epoch, the
    # clip would start black at the connect and turn white 4 s later, 0-2 s into the next lap instead of at 4 s.
    epoch = time.time() - 3.0
    server = RtspTestServer(clip, mount="/lap", width=None, epoch=epoch).start()
    seen: list[tuple[float, float, bool]] = []  # (stream time, arrival, white)
    try:
        with av.open(server.url, options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as c:
            deadline = time.time() + 3 * 2 * HALF_S
            for frame in c.decode(video=0):
                now = time.time()
                if frame.time is not None:
                    seen.append((frame.time, now, float(frame.to_ndarray(format="gray").mean()) > 128))
                if now > deadline:
                    break
    finally:
        server.stop()
    # When each picture was sent, as the reader itself reckons it (ingest.clock): its stream time plus the
    # smallest arrival delay seen, so a loaded machine decoding late does not shift it.
    offset = min(arrival - t for t, arrival, _ in seen)
    turned_white = [((t + offset) - epoch) % (2 * HALF_S)
                    for (_, _, was), (t, _, white) in zip(seen, seen[1:], strict=False) if white and not was]
    assert turned_white, "the clip never turned from black to white"
    # The fastest delivery can only be late (network), never early: 4 s, up to 1.5 s after it.
    for phase in turned_white:
        assert HALF_S - 0.3 <= phase <= HALF_S + 1.5, f"turned white {phase:.2f} s into the lap, not at {HALF_S} s"
