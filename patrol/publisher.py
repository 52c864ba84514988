"""Live video to the command centre's relay (RTSP publish), reconnecting by itself when the link comes back.

``copy`` mode remuxes the camera's H.264 as it comes (no decoding, no quality loss, almost no CPU).
``substream`` mode decodes and re-encodes a smaller picture at a capped bitrate for a thin link; ``auto``
measures the camera's bitrate and copies while it is within ``bitrate_kbps``, else sends the substream
(decided at each connection). The local segments keep full quality either way.

The publisher has its own thread and a bounded queue: the camera thread never waits on the network. While
the link is down packets are dropped here (the segments have them) and a new connection is tried every
``retry_seconds``; it starts on a keyframe so the first thing viewers get is a picture. A publish that
breaks (relay gone: the RTSP muxer reports a broken pipe) closes the connection and the cycle repeats.
"""
from __future__ import annotations

import collections
import logging
import queue
import time
from fractions import Fraction
from typing import Any

import av
import av.error
from av.codec.context import CodecContext
from av.container import OutputContainer

from gridwatch.loop import ThreadPart
from gridwatch.secrets import mask_url
from patrol.settings import LiveSettings
from patrol.source import SourcePacket, StreamInfo

log = logging.getLogger(__name__)

QUEUE_PACKETS = 250  # ~10 s at 25 fps: longer than any reconnect attempt
MEASURE_SECONDS = 3.0  # auto mode: the camera's bitrate is judged over this much video before deciding


class LiveState:
    CONNECTING = "connecting"
    LIVE = "live"
    DOWN = "down"
    STOPPED = "stopped"


class LivePublisher(ThreadPart):
    """``offer(packet)`` from the camera thread; ``start()``/``stop()``; ``state`` and counters for health."""

    def __init__(self, camera_id: str, url: str, live: LiveSettings, transport: str, retry_seconds: float,
                 timeout_seconds: float) -> None:
        super().__init__(f"patrol-live-{camera_id}")
        self.camera_id = camera_id
        self._url = url
        self.shown = mask_url(url)
        self.live = live
        self.transport = transport
        self.retry_seconds = retry_seconds
        self.timeout_seconds = timeout_seconds
        self.state = LiveState.CONNECTING
        self.connects = 0
        self.failures = 0
        self.sent = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.live_since: float | None = None
        self.down_since: float | None = None
        self._queue: queue.Queue[SourcePacket] = queue.Queue(QUEUE_PACKETS)
        self._out: OutputContainer | None = None
        self._stream: Any = None
        self._info: StreamInfo | None = None
        self._base = 0
        self._next_try = 0.0
        self._decoder: Any = None  # a VideoCodecContext; PyAV types create() as the base class
        self._frames = 0
        self._out_rate = Fraction(25)
        self.mode = "copy" if live.mode == "auto" else live.mode  # the mode of the current connection
        self._window: collections.deque[tuple[float, int]] = collections.deque()
        self._window_bytes = 0

    def stop(self, timeout: float = 10.0) -> bool:
        ended = super().stop(timeout)
        self._close()
        self.state = LiveState.STOPPED
        return ended

    def _left_busy(self, timeout: float) -> None:
        log.warning("camera %s: live publisher did not stop within %.0f s", self.camera_id, timeout)

    @property
    def source_kbps(self) -> float | None:
        """The camera's bitrate over the last few seconds; None until enough video was seen."""
        w = self._window
        if len(w) < 2 or w[-1][0] - w[0][0] < MEASURE_SECONDS * 0.9:
            return None
        return (self._window_bytes - w[0][1]) * 8 / 1000 / (w[-1][0] - w[0][0])

    def offer(self, p: SourcePacket) -> None:
        """Never blocks: a full queue (the link is slower than the camera) drops the packet."""
        self._window.append((p.wall, len(p.data)))
        self._window_bytes += len(p.data)
        while self._window[-1][0] - self._window[0][0] > MEASURE_SECONDS:
            self._window_bytes -= self._window.popleft()[1]
        try:
            self._queue.put_nowait(p)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                p = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if self._out is not None and p.info is not self._info:
                self._close()  # the camera came back with new parameters: a new publish session
            if self._out is None and not self._connect(p):
                self.dropped += 1
                continue
            try:
                self._send(p)
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                self._fail(exc)

    def _connect(self, p: SourcePacket) -> bool:
        now = time.monotonic()
        if now < self._next_try or not p.key:
            return False
        mode = self.live.mode
        if mode == "auto":
            kbps = self.source_kbps
            if kbps is None:
                return False  # not measured yet: a few seconds more before the first connection
            mode = "copy" if kbps <= self.live.bitrate_kbps else "substream"
            if mode != self.mode or self.connects == 0:
                log.info("camera %s: camera sends %.0f kbit/s, cap %d: live as %s", self.camera_id, kbps,
                         self.live.bitrate_kbps, mode)
        self.mode = mode
        self._next_try = now + self.retry_seconds
        options = {"rtsp_transport": self.transport, "timeout": str(int(self.timeout_seconds * 1e6))}
        try:
            out = av.open(self._url, "w", format="rtsp", options=options,
                          timeout=(self.timeout_seconds, self.timeout_seconds))
            if mode == "copy":
                self._stream = out.add_stream_from_template(p.info.template)
            else:
                self._stream = self._encoder(out, p.info)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._fail(exc)
            return False
        self._out = out
        self._info = p.info
        self._base = p.dts
        self._frames = 0
        return True

    def _encoder(self, out: OutputContainer, info: StreamInfo) -> Any:
        rate = Fraction(self.live.fps).limit_denominator(1001) if self.live.fps else info.rate
        width = min(self.live.width, info.width) // 2 * 2
        height = max(2, round(info.height * width / info.width / 2) * 2)
        stream: Any = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        kbps = self.live.bitrate_kbps
        stream.bit_rate = kbps * 1000
        stream.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(max(1, round(rate *
                          Fraction(self.live.keyframe_seconds).limit_denominator(100)))),
                          "maxrate": f"{kbps}k", "bufsize": f"{kbps}k"}
        self._decoder = CodecContext.create(info.codec, "r")
        self._decoder.extradata = info.template.codec_context.extradata
        self._decoder.thread_type = "AUTO"
        self._out_rate = rate
        return stream

    def _send(self, p: SourcePacket) -> None:
        assert self._out is not None and self._info is not None
        if self.mode == "copy":
            pkt = av.Packet(p.data)
            pkt.pts = p.pts - self._base
            pkt.dts = p.dts - self._base
            pkt.duration = self._info.frame_ticks
            pkt.time_base = self._info.time_base
            pkt.is_keyframe = p.key
            pkt.stream = self._stream
            self._out.mux(pkt)
        else:
            assert self._decoder is not None
            src = av.Packet(p.data)
            src.pts, src.dts, src.time_base = p.pts, p.dts, self._info.time_base
            for frame in self._decoder.decode(src):
                # Frames timed by the source clock, so a dropped or slow frame never makes the picture run fast.
                t = float((p.pts - self._base) * self._info.time_base)
                pts = round(t * self._out_rate)
                if pts < self._frames:
                    continue  # more source frames than the substream's rate: skip this one
                img = frame.reformat(width=self._stream.width, height=self._stream.height, format="yuv420p")
                img.pts = pts
                img.time_base = Fraction(1) / self._out_rate
                self._frames = pts + 1
                for pkt in self._stream.encode(img):
                    self._out.mux(pkt)
        self.sent += 1
        if self.state != LiveState.LIVE:
            self.state = LiveState.LIVE
            self.connects += 1
            self.live_since = time.time()
            gap = "" if self.down_since is None else f" after {time.time() - self.down_since:.1f} s down"
            self.down_since = None
            log.info("camera %s: live on %s (%s)%s", self.camera_id, self.shown, self.mode, gap)

    def _fail(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}".replace(self._url, self.shown)
        self.failures += 1
        self.last_error = reason
        if self.state != LiveState.DOWN:
            what = "lost" if self.state == LiveState.LIVE else "cannot start"
            log.warning("camera %s: live stream to %s %s: %s; recording locally, retrying every %.0f s",
                        self.camera_id, self.shown, what, reason, self.retry_seconds)
            self.down_since = time.time()
        else:
            log.debug("camera %s: relay still unreachable: %s", self.camera_id, reason)
        self.state = LiveState.DOWN
        self.live_since = None
        self._close()
        self._next_try = time.monotonic() + self.retry_seconds

    def _close(self) -> None:
        out, self._out = self._out, None
        self._stream = None
        self._info = None
        self._decoder = None
        if out is not None:
            try:
                out.close()
            except (av.error.FFmpegError, OSError, ValueError):
                pass  # the connection is already gone; nothing else to release
