"""A live RTSP camera whose every frame shows its own capture time in pixels (run with Debian's /usr/bin/python3).

    /usr/bin/python3 bench/timecode_rtsp.py --port 8600 --codec h264 --fps 25

Each frame is drawn when it is captured: a row of ``BITS`` black/white cells at the top carries the Unix time in
milliseconds (low 32 bits, most significant bit first), under it a moving ramp so the encoder has real motion to
code. A page reads the cells back from the decoded <video> (``bench/live_bench.py``, ``tests/dashboard``) and so
measures glass-to-glass delay: from the frame's capture here to its display in the browser. ``--codec h265``
serves H.265 (a codec browsers without it cannot play). Each client gets its own pipeline.
Writes ``ready rtsp://...`` once it listens.
"""
from __future__ import annotations

import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

WIDTH, HEIGHT = 640, 360
BITS = 32
CELL_W = WIDTH // BITS  # 20 px
CELL_H = 40


def draw(now_ms: int, frame_no: int) -> bytes:
    """One GRAY8 frame: the time code row, then a ramp that moves a few pixels per frame."""
    row = bytearray()
    for bit in range(BITS):
        on = (now_ms >> (BITS - 1 - bit)) & 1
        row += (b"\xff" if on else b"\x00") * CELL_W
    code = bytes(row) * CELL_H
    shift = (frame_no * 4) % WIDTH
    ramp_row = bytes((x + shift) * 255 // (2 * WIDTH) for x in range(WIDTH))
    return code + ramp_row * (HEIGHT - CELL_H)


def pipeline(codec: str, fps: int) -> str:
    caps = f"video/x-raw,format=GRAY8,width={WIDTH},height={HEIGHT},framerate={fps}/1"
    if codec == "h265":
        enc = (f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=2000 ! "
               "rtph265pay name=pay0 pt=96 config-interval=1")
    else:
        # Debian's GStreamer has openh264 (plugins-bad); x264enc is in -ugly, which is not installed everywhere.
        enc = (f"openh264enc gop-size={fps} bitrate=2000000 rate-control=bitrate complexity=low ! "
               "rtph264pay name=pay0 pt=96 config-interval=1")
    return (f"( appsrc name=src is-live=true do-timestamp=true format=time caps={caps} ! "
            f"videoconvert ! video/x-raw,format=I420 ! {enc} )")


class Feeder:
    """Pushes a freshly drawn frame every 1/fps s into one client's media, until the media is released."""

    def __init__(self, fps: int, media: GstRtspServer.RTSPMedia) -> None:
        self.src = media.get_element().get_by_name_recurse_up("src")
        self.frame_no = 0
        self.timer: int | None = GLib.timeout_add(max(1, round(1000 / fps)), self.push)
        media.connect("unprepared", self.stop)

    def push(self) -> bool:
        data = draw(int(time.time() * 1000), self.frame_no)
        self.frame_no += 1
        self.src.emit("push-buffer", Gst.Buffer.new_wrapped(data))
        return True

    def stop(self, *_: object) -> None:
        if self.timer is not None:
            GLib.source_remove(self.timer)
            self.timer = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mount", default="/timecode")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(args.codec, args.fps))
    # One media per client (a shared media being torn down answers the next client 503 for a moment).
    factory.set_shared(False)
    factory.connect("media-configure", lambda _factory, media: Feeder(args.fps, media))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot listen on {args.host}:{args.port}\n")
        return 3
    sys.stdout.write(f"ready rtsp://{args.host}:{args.port}{args.mount}\n")
    sys.stdout.flush()
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
