"""A car camera as one stream of H.264 packets with capture times: an IP camera (RTSP), a USB camera, or a file.

The source is read ONCE and its packets are handed to every sink (local segments, live publisher), so a USB
camera that only one program may open still feeds both. H.264 is passed through untouched (no decoding);
anything else (a USB camera's MJPEG, say) is encoded to H.264 once here, so the sinks only ever see H.264.

Timestamps are made strictly increasing for the life of one opening (a looping file adds a clip length per
lap; a packet without a time gets its predecessor's plus one frame), which is what MP4 and RTSP muxers
need. A file is paced to real time, as a camera would deliver it.
"""
from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from gridwatch.secrets import mask_url
from patrol.settings import CameraFeed

log = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(25)
PASS_THROUGH = frozenset({"h264"})


class SourceError(RuntimeError):
    """The camera cannot be opened or read; the message names the camera (password masked) and the cause."""


@dataclass(eq=False)
class StreamInfo:
    """The codec parameters of one opening of a source; sinks compare ``number`` to notice a new opening.

    The parameters live in a stream of a small in-memory MP4 that is never written out, because PyAV copies
    them from a stream and the source's own container is closed when the camera drops.
    """

    number: int
    codec: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    template: VideoStream
    transcoded: bool
    holder: OutputContainer | None = field(default=None, repr=False)

    @property
    def frame_ticks(self) -> int:
        return max(1, round(1 / (self.rate * self.time_base)))


@dataclass(frozen=True, slots=True)
class SourcePacket:
    data: bytes
    pts: int
    dts: int
    key: bool
    wall: float  # capture time, epoch seconds
    info: StreamInfo


def _template(stream: VideoStream, number: int, transcoded: bool, holder: OutputContainer | None = None) -> StreamInfo:
    if holder is None:
        holder = av.open(io.BytesIO(), "w", format="mp4")
        template = holder.add_stream_from_template(stream)
    else:
        template = stream
    rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
    return StreamInfo(number=number, codec=stream.codec_context.name, width=stream.codec_context.width,
                      height=stream.codec_context.height, time_base=stream.time_base or Fraction(1, 90000),
                      rate=Fraction(rate), template=template, transcoded=transcoded, holder=holder)


class CameraSource:
    """``for p in CameraSource(feed, stop).packets(): ...`` — one opening; SourceError when it fails or ends."""

    _openings = 0
    _lock = threading.Lock()

    def __init__(self, feed: CameraFeed, stop: threading.Event, open_timeout: float = 10.0) -> None:
        self.feed = feed
        self.kind = feed.resolved_kind()
        self._stop = stop
        self._timeout = open_timeout
        self.shown = mask_url(feed.source.get_secret_value())

    def _open(self) -> InputContainer:
        src = self.feed.source.get_secret_value()
        options: dict[str, str] = {}
        fmt: str | None = None
        if self.kind == "rtsp":
            options = {"rtsp_transport": self.feed.rtsp_transport, "timeout": str(int(self._timeout * 1e6))}
        elif self.kind == "v4l2":
            fmt = "v4l2"
            if self.feed.v4l2_input_format:
                options["input_format"] = self.feed.v4l2_input_format
            if self.feed.v4l2_size:
                options["video_size"] = self.feed.v4l2_size
            if self.feed.v4l2_fps:
                options["framerate"] = f"{self.feed.v4l2_fps:g}"
        try:
            container = av.open(src, format=fmt, options=options, timeout=(self._timeout, self._timeout))
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"camera {self.feed.id}: cannot open {self.shown}: "
                              f"{str(exc).replace(src, self.shown)}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"camera {self.feed.id}: {self.shown} has no video stream")
        return container

    def packets(self) -> Iterator[SourcePacket]:
        container = self._open()
        with self._lock:
            CameraSource._openings += 1
            number = CameraSource._openings
        try:
            stream = container.streams.video[0]
            if stream.codec_context.name in PASS_THROUGH:
                yield from self._copy(container, stream, number)
            else:
                yield from self._transcode(container, stream, number)
        except (av.error.FFmpegError, OSError) as exc:
            src = self.feed.source.get_secret_value()
            raise SourceError(f"camera {self.feed.id}: reading {self.shown} failed: "
                              f"{str(exc).replace(src, self.shown)}") from None
        finally:
            container.close()

    def _demux(self, container: InputContainer, stream: VideoStream) -> Iterator[tuple[av.Packet, int]]:
        """Packets with a lap offset (in ``stream.time_base``) for files played in a loop."""
        offset = 0
        while not self._stop.is_set():
            last_end = None
            for pkt in container.demux(stream):
                if self._stop.is_set():
                    return
                if pkt.size == 0:
                    continue  # the demuxer's end-of-stream marker
                ts = pkt.dts if pkt.dts is not None else pkt.pts
                if ts is not None:
                    end = ts + (pkt.duration or 0)
                    last_end = end if last_end is None else max(last_end, end)
                yield pkt, offset
            if self.kind != "file" or not self.feed.loop:
                raise SourceError(f"camera {self.feed.id}: {self.shown} ended")
            if last_end is None:
                raise SourceError(f"camera {self.feed.id}: {self.shown} has no video packets")
            first = stream.start_time or 0
            offset += last_end - first
            container.seek(first, stream=stream, backward=True, any_frame=False)

    def _copy(self, container: InputContainer, stream: VideoStream, number: int) -> Iterator[SourcePacket]:
        info = _template(stream, number, transcoded=False)
        log.info("camera %s: %s opened (%s %dx%d, %s fps, stream copy)", self.feed.id, self.shown, info.codec,
                 info.width, info.height, f"{float(info.rate):g}")
        pace = _Pacer(self.kind == "file", info.time_base, self._stop)
        last_dts: int | None = None
        for pkt, offset in self._demux(container, stream):
            pts = None if pkt.pts is None else pkt.pts + offset
            dts = None if pkt.dts is None else pkt.dts + offset
            if dts is None:
                dts = pts if pts is not None else (0 if last_dts is None else last_dts + info.frame_ticks)
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1  # MP4 and RTP need increasing times; a camera glitch must not stop the sinks
            if pts is None or pts < dts:
                pts = dts
            last_dts = dts
            if not pace.wait(dts):
                return
            yield SourcePacket(bytes(pkt), pts, dts, bool(pkt.is_keyframe), time.time(), info)

    def _transcode(self, container: InputContainer, stream: VideoStream, number: int) -> Iterator[SourcePacket]:
        rate = Fraction(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        holder = av.open(io.BytesIO(), "w", format="mp4")
        enc: Any = holder.add_stream("libx264", rate=rate)
        enc.width, enc.height = stream.codec_context.width, stream.codec_context.height
        enc.pix_fmt = "yuv420p"
        enc.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(max(1, round(rate)))}
        info: StreamInfo | None = None
        log.info("camera %s: %s opened (%s %dx%d): encoding to H.264 once for recording and live",
                 self.feed.id, self.shown, stream.codec_context.name, enc.width, enc.height)
        pace = _Pacer(self.kind == "file", stream.time_base or Fraction(1, 90000), self._stop)
        n = 0
        for pkt, offset in self._demux(container, stream):
            if pkt.dts is not None and not pace.wait(pkt.dts + offset):
                return
            for frame in pkt.decode():
                frame = frame.reformat(format="yuv420p")
                frame.pts = n
                frame.time_base = Fraction(1) / rate
                n += 1
                for out in enc.encode(frame):
                    pts, dts, key, data = int(out.pts), int(out.dts), bool(out.is_keyframe), bytes(out)
                    if info is None:
                        holder.mux(out)  # writes the holder's header: fills the stream's parameters (SPS/PPS)
                        info = _template(enc, number, transcoded=True, holder=holder)
                        info.time_base = Fraction(1) / rate  # the encoder's packets count frames
                        info.rate = rate
                    yield SourcePacket(data, pts, dts, key, time.time(), info)


class _Pacer:
    """Holds a file's packets back to real time; cameras pace themselves."""

    def __init__(self, enabled: bool, time_base: Fraction, stop: threading.Event) -> None:
        self.enabled = enabled
        self.time_base = time_base
        self._stop = stop
        self._origin: tuple[float, int] | None = None

    def wait(self, ts: int) -> bool:
        """False when stopped while waiting."""
        if not self.enabled:
            return not self._stop.is_set()
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, ts)
        due = self._origin[0] + float((ts - self._origin[1]) * self.time_base)
        if due - now > 0:
            return not self._stop.wait(due - now)
        return not self._stop.is_set()
