"""One camera's main stream -> fragmented MP4 pieces, by stream copy, in a thread (``CameraRelay``).

The thread opens the camera's RTSP URL with PyAV, hands ``on_init`` the init segment (again after every
reconnect: the camera may have changed its resolution or codec) and ``on_piece`` one :class:`Piece` per packet,
starting at a keyframe. Nothing is decoded: a packet's bytes go into one ``moof``+``mdat`` (``dashboard.fmp4``).

Times: the fragment's decode time is the packet's own dts, rebased to the connection's first keyframe and put in
the init segment's timescale; ``captured`` is its wall-clock capture time (``ingest.clock.StreamClock``, as the
reader reckons it), which the browser uses to place the detection boxes and the benchmark to measure latency.

A dropped or stalled connection is reopened with backoff until ``stop()``; a read gives up after
``read_timeout_s`` without data, so ``stop()`` is honoured within that even when the camera went silent.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error

from dashboard import fmp4
from gridwatch.loop import ThreadPart
from ingest.clock import StreamClock
from ingest.pictures import whole_pictures
from ingest.reader import FAST_OPEN_OPTIONS

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
FALLBACK_FPS = 25


@dataclass(frozen=True, slots=True)
class Piece:
    """One frame as a fragment: ``media_time`` (s) is where it lies on the browser's timeline."""

    data: bytes
    key: bool
    media_time: float
    captured: float  # wall-clock capture time (Unix s)


class Timeline:
    """Packet timestamps -> (decode time, duration, composition offset) in the track's timescale.

    Decode times only ever increase (a camera's repeated or missing dts must not send the browser back in time). A
    sample's duration is not known until the next one arrives, but the fragment goes out now: the larger of the
    last gap and the nominal frame interval, since a browser treats a jump of more than twice the previous
    duration as a discontinuity and then waits for the next keyframe."""

    def __init__(self, time_base: Fraction, timescale: int, fps: float | None) -> None:
        self._scale = time_base * timescale
        self._nominal = max(1, round(timescale / (fps or FALLBACK_FPS)))
        self._base: int | None = None
        self._last: int | None = None
        self._gap = self._nominal

    def place(self, dts: int | None, pts: int | None) -> tuple[int, int, int]:
        raw = dts if dts is not None else pts
        if self._base is None:
            self._base = raw if raw is not None else 0
        if raw is None:
            decode = (self._last + self._gap) if self._last is not None else 0
        else:
            decode = round((raw - self._base) * self._scale)
        if self._last is not None:
            decode = max(decode, self._last + 1)
            self._gap = decode - self._last
        self._last = decode
        offset = 0 if pts is None or raw is None else round((pts - raw) * self._scale)
        return decode, max(self._gap, self._nominal), offset


class CameraRelay(ThreadPart):
    """``CameraRelay(camera_id, url, on_init, on_piece).start()``; ``stop()`` from any thread."""

    def __init__(
        self, camera_id: str, url: Callable[[], str], on_init: Callable[[fmp4.InitSegment], object],
        on_piece: Callable[[Piece], object], *, rtsp_transport: str = "tcp", open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        """``url`` is asked at every (re)connect, so an edited camera is followed; it is never logged."""
        super().__init__(f"gridwatch-live-{camera_id}")
        self.camera_id = camera_id
        self._url = url
        self._on_init = on_init
        self._on_piece = on_piece
        self._options = {"rtsp_transport": rtsp_transport, **FAST_OPEN_OPTIONS}
        self._timeouts = (open_timeout_s, read_timeout_s)
        self.connections = 0  # upstream connections opened so far (tests: one per camera, however many viewers)
        self.error: str | None = None  # why the last connection failed, for the tile's notice

    def stop(self, timeout: float = 0.0) -> bool:
        """Asks the thread to end (it does after the packet in hand, or a read timeout); by default does not wait
        (the live server stops a relay from its event loop)."""
        return super().stop(timeout)

    @property
    def native_id(self) -> int | None:
        """The relay thread's OS id while it runs (the benchmark accounts its CPU)."""
        return self._thread.native_id if self._thread is not None and self._thread.is_alive() else None

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self._session()
                self.error = None
            except (av.error.FFmpegError, fmp4.Fmp4Error) as exc:
                # FFmpeg's texts embed the URL (with its password): keep the kind of failure only.
                self.error = type(exc).__name__
                log.info("live %s: upstream failed (%s); retrying in %.1f s", self.camera_id, self.error, backoff)
            except Exception:  # noqa: BLE001 - a bad camera must never end the relay thread silently
                self.error = "internal error"
                log.exception("live %s: relay failed", self.camera_id)
            if time.monotonic() - began > 10:
                backoff = FIRST_BACKOFF_S
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _session(self) -> None:
        container = av.open(self._url(), options=self._options, timeout=self._timeouts)
        self.connections += 1
        try:
            if not container.streams.video:
                raise fmp4.Fmp4Error("stream has no video track")
            stream = container.streams.video[0]
            init = fmp4.init_segment(stream)
            self._on_init(init)
            time_base = stream.time_base or Fraction(1, 90000)
            rate = stream.average_rate or stream.guessed_rate
            timeline = Timeline(time_base, init.timescale, float(rate) if rate else None)
            clock = StreamClock()
            sequence = 0
            # One packet per picture: a keyframe whose slices arrive apart would go out as fragments of slices.
            where = f"live {self.camera_id}"
            for packet in whole_pictures(container.demux(stream), stream.codec_context.name, where):
                if self._stop.is_set():
                    return
                if packet.size == 0 or (sequence == 0 and not packet.is_keyframe):
                    continue  # the end-of-stream marker; before the first keyframe nothing is playable
                arrival = time.time()
                ts = packet.pts if packet.pts is not None else packet.dts
                captured = clock.observe(float(ts * time_base), arrival) if ts is not None else arrival
                decode, duration, offset = timeline.place(packet.dts, packet.pts)
                sequence += 1
                data = fmp4.fragment(sequence, decode, duration, fmp4.sample_data(bytes(packet)),
                                     key=packet.is_keyframe, composition_offset=offset, track_id=init.track_id)
                self._on_piece(Piece(data, packet.is_keyframe, (decode + offset) / init.timescale,
                                     min(captured, arrival)))
        finally:
            container.close()
