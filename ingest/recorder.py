"""Rolling buffers of each camera's compressed video, and MP4 clips cut from them by stream copy.

The reader hands every demuxed packet of its one connection to the camera's ``PacketBuffer`` (no second
connection, no decoding): a copy of the packet's bytes, its timestamp and its capture time. The buffer keeps
whole groups of pictures (a keyframe and what follows it) covering at least ``buffer_seconds``, so every
clip can start on a keyframe.

``PacketBuffer.write_clip(path, start, end)`` waits until the video up to ``end`` has arrived (or a time
limit passes), then remuxes the packets from the last keyframe at or before ``start`` up to ``end`` into an
MP4 (H.264 as it came, ``faststart`` so a browser plays it before it has loaded the end) with PyAV. The
codec parameters of each connection are kept in a stream of a small unwritten in-memory MP4 container,
because PyAV copies them from a stream and the reader's own container is closed when its connection ends.

A reconnect starts a new segment (the camera may come back with other parameters); a clip never mixes
segments: it takes the one that covers most of the requested span.
"""
from __future__ import annotations

import collections
import io
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import OutputContainer
from av.video.stream import VideoStream

from gridwatch.settings import RecordingSettings

log = logging.getLogger(__name__)

MAX_BUFFER_BYTES = 256 * 1024 * 1024  # per camera: a runaway bitrate must not eat the worker's memory
DEFAULT_FPS = 25


class ClipError(RuntimeError):
    """A clip could not be written: unknown camera, no video in the span, or a muxing failure (named)."""


@dataclass(frozen=True, slots=True)
class BufferedPacket:
    data: bytes
    ts: int  # presentation time in the segment's time base (in decode order: B-frames go back)
    key: bool
    wall: float  # capture time, epoch seconds


class Segment:
    """One connection's codec parameters and time base, kept alive for remuxing after it has closed."""

    def __init__(self, stream: VideoStream, number: int) -> None:
        self.number = number
        self.time_base: Fraction = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or Fraction(DEFAULT_FPS)
        self.frame_ticks = max(1, round(1 / (rate * self.time_base)))
        self.codec = stream.codec_context.name
        self.size = (stream.codec_context.width, stream.codec_context.height)
        self._holder: OutputContainer = av.open(io.BytesIO(), "w", format="mp4")
        self.template: VideoStream = self._holder.add_stream_from_template(stream)


@dataclass
class _Gop:
    segment: Segment
    packets: list[BufferedPacket]
    size: int

    @property
    def start_wall(self) -> float:
        return self.packets[0].wall

    @property
    def end_wall(self) -> float:
        return self.packets[-1].wall


@dataclass(frozen=True, slots=True)
class ClipInfo:
    path: Path
    start: datetime  # capture time of the first frame (a keyframe)
    end: datetime  # capture time of the last frame
    duration: float  # seconds of video in the file
    frames: int
    bytes: int


def _utc_ts(t: datetime, what: str) -> float:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {t.isoformat()}")
    return t.timestamp()


class PacketBuffer:
    """The last ``buffer_seconds`` of one camera's compressed video (a ``PacketSink`` for the reader)."""

    def __init__(self, camera_id: str, buffer_seconds: float, max_bytes: int = MAX_BUFFER_BYTES) -> None:
        self.camera_id = camera_id
        self.buffer_seconds = buffer_seconds
        self.max_bytes = max_bytes
        self._cond = threading.Condition()
        self._gops: collections.deque[_Gop] = collections.deque()
        self._bytes = 0
        self._segment: Segment | None = None
        self._open_gop: _Gop | None = None  # the GOP new packets join; None until the segment's first keyframe
        self._last_ts: int | None = None
        self._pending: tuple[bytes, bool, float] | None = None  # a packet that came without a timestamp
        self._segments = 0
        self._owner: int | None = None  # the reader thread feeding the buffer now
        self._waiters = 0
        self.packets_seen = 0

    # ---- PacketSink -----------------------------------------------------------------------------------

    def begin(self, stream: VideoStream) -> None:
        self._segments += 1
        segment = Segment(stream, self._segments)
        with self._cond:
            # A restarted camera's new reader takes over; its old reader, still winding down, is ignored.
            self._owner = threading.get_ident()
            self._segment = segment
            self._open_gop = None
            self._last_ts = None
            self._pending = None

    def packet(self, packet: av.Packet, wall: float) -> None:
        data = bytes(packet)
        ts = packet.pts if packet.pts is not None else packet.dts
        key = bool(packet.is_keyframe)
        with self._cond:
            segment = self._segment
            if segment is None or self._owner != threading.get_ident():
                return
            self.packets_seen += 1
            if ts is None:
                if self._last_ts is None:
                    # FFmpeg's RTSP demuxer often gives the very first packet no time; it is usually the
                    # keyframe everything else needs, so it waits for its successor's time.
                    self._pending = (data, key, wall)
                    return
                ts = self._last_ts + segment.frame_ticks
            if self._pending is not None:
                p_data, p_key, p_wall = self._pending
                self._pending = None
                self._add(segment, BufferedPacket(p_data, ts - segment.frame_ticks, p_key, p_wall))
            # Kept as they came, even when they go back (B-frames come before the frames shown ahead of them):
            # the clip's decode times are derived from them when it is written (``decode_times``).
            self._add(segment, BufferedPacket(data, ts, key, wall))
            if self._waiters:
                self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                return
            self._owner = None
            self._segment = None
            self._open_gop = None
            self._pending = None
            self._cond.notify_all()

    def _add(self, segment: Segment, p: BufferedPacket) -> None:
        """Append under the lock: a keyframe opens a GOP; packets before a segment's first keyframe are useless."""
        self._last_ts = p.ts
        if p.key:
            self._open_gop = _Gop(segment, [p], len(p.data))
            self._gops.append(self._open_gop)
        elif self._open_gop is not None:
            self._open_gop.packets.append(p)
            self._open_gop.size += len(p.data)
        else:
            return
        self._bytes += len(p.data)
        cutoff = p.wall - self.buffer_seconds
        while len(self._gops) > 1 and (self._gops[1].start_wall <= cutoff or self._bytes > self.max_bytes):
            self._bytes -= self._gops.popleft().size
        if self._bytes > self.max_bytes:  # one GOP alone over the cap: a camera without keyframes
            log.warning("camera %s: a single GOP exceeds %d MB; recording restarts at the next keyframe",
                        self.camera_id, self.max_bytes // 2**20)
            self._gops.clear()
            self._bytes = 0
            self._open_gop = None

    # ---- queries --------------------------------------------------------------------------------------

    def span(self) -> tuple[datetime, datetime] | None:
        """Capture times of the oldest and newest buffered frame, or None while empty."""
        with self._cond:
            if not self._gops:
                return None
            return (datetime.fromtimestamp(self._gops[0].start_wall, UTC),
                    datetime.fromtimestamp(self._gops[-1].end_wall, UTC))

    @property
    def buffered_bytes(self) -> int:
        with self._cond:
            return self._bytes

    def wait_for(self, wall: float, timeout: float) -> bool:
        """Wait until a frame captured at or after ``wall`` (epoch seconds) is buffered; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiters += 1
            try:
                while not (self._gops and self._gops[-1].end_wall >= wall):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(min(left, 1.0))
                return True
            finally:
                self._waiters -= 1

    def select(self, start: float, end: float) -> tuple[Segment, list[BufferedPacket]]:
        """Packets from the keyframe at/before ``start`` to the last frame at/before ``end`` (one segment)."""
        with self._cond:
            gops = [g for g in self._gops if g.start_wall <= end]
        if not gops or gops[-1].end_wall < start:
            raise ClipError(f"camera {self.camera_id}: no video buffered between "
                            f"{datetime.fromtimestamp(start, UTC):%H:%M:%S} and "
                            f"{datetime.fromtimestamp(end, UTC):%H:%M:%S}")
        # Consecutive GOPs of one connection form a run; take the run that covers most of [start, end].
        runs: list[list[_Gop]] = []
        for g in gops:
            if runs and runs[-1][-1].segment is g.segment:
                runs[-1].append(g)
            else:
                runs.append([g])

        def overlap(run: list[_Gop]) -> float:
            return min(end, run[-1].end_wall) - max(start, run[0].start_wall)

        run = max(runs, key=overlap)
        first = 0
        for i, g in enumerate(run):
            if g.start_wall <= start:
                first = i
        packets: list[BufferedPacket] = []
        for p in (p for g in run[first:] for p in g.packets):
            if p.wall > end:
                break  # in decode order: a frame after it may need it (B-frames), so stop at the first one
            packets.append(p)
        return run[0].segment, packets

    def write_clip(self, path: Path, start: datetime, end: datetime, timeout: float = 0.0) -> ClipInfo:
        """Write [start, end] to ``path`` (MP4), first waiting up to ``timeout`` s for ``end`` to arrive."""
        t0, t1 = _utc_ts(start, "clip start"), _utc_ts(end, "clip end")
        if t1 <= t0:
            raise ClipError(f"clip end {end.isoformat()} is not after its start {start.isoformat()}")
        left = max(0.0, t1 - time.time()) + timeout
        if not self.wait_for(t1, left):
            log.warning("camera %s: video up to %s did not arrive within %.0f s; writing what there is",
                        self.camera_id, end.isoformat(), left)
        segment, packets = self.select(t0, t1)
        info = mux_mp4(path, segment, packets)
        log.info("camera %s: clip %s (%.1f s, %d frames, %d kB) from %s", self.camera_id, path.name,
                 info.duration, info.frames, info.bytes // 1024, info.start.isoformat())
        return info


def decodable(packets: list[BufferedPacket]) -> list[BufferedPacket]:
    """From the first keyframe on, without the frames shown before it: in an open GOP those B-frames refer to the
    GOP before the clip, so a player would show them green and smeared."""
    first = next((i for i, p in enumerate(packets) if p.key), None)
    if first is None:
        return []
    start = packets[first].ts
    return [p for p in packets[first:] if p.ts >= start]


def decode_times(pts: list[int]) -> list[tuple[int, int]]:
    """(dts, pts) per packet, in decode order, for the MP4: dts strictly increasing and never after its pts.

    RTSP gives presentation times only (FFmpeg's RTP demuxer leaves most decode times unset), and with B-frames
    they go back and forth in decode order. The decode times are the presentation times in display order,
    shifted back by the stream's reordering delay; without B-frames they equal the presentation times. A camera
    glitch (a time repeated or going back) is smoothed over by a tick, never passed on to the player.
    """
    order = sorted(pts)
    delay = max((o - t for o, t in zip(order, pts, strict=True)), default=0)
    out: list[tuple[int, int]] = []
    last_dts: int | None = None
    last_pts: set[int] = set()
    for o, t in zip(order, pts, strict=True):
        dts = o - delay
        if last_dts is not None and dts <= last_dts:
            dts = last_dts + 1
        t = max(t, dts)
        while t in last_pts:  # two frames shown at one instant: the second a tick later
            t += 1
        last_pts.add(t)
        out.append((dts, t))
        last_dts = dts
    return out


def mux_mp4(path: Path, segment: Segment, packets: list[BufferedPacket]) -> ClipInfo:
    """Remux ``packets`` (from a keyframe on) into an MP4 at ``path``, atomically (temp file + rename); the clip
    starts on its keyframe (time 0) and its decode times increase (ffmpeg decodes it without a warning)."""
    packets = decodable(packets)
    if not packets:
        raise ClipError(f"no frames to write to {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    times = decode_times([p.ts for p in packets])
    base = times[0][0]
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream_from_template(segment.template)
            for i, (p, (dts, pts)) in enumerate(zip(packets, times, strict=True)):
                pkt = av.Packet(p.data)
                pkt.dts, pkt.pts = dts - base, pts - base
                nxt = times[i + 1][0] if i + 1 < len(times) else dts + segment.frame_ticks
                pkt.duration = max(1, nxt - dts)
                pkt.time_base = segment.time_base
                pkt.is_keyframe = p.key
                pkt.stream = stream
                out.mux(pkt)
        os.replace(tmp, path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"cannot write clip {path}: {type(exc).__name__}: {exc}") from exc
    shown = [pts for _, pts in times]
    duration = float((max(shown) - min(shown) + segment.frame_ticks) * segment.time_base)
    return ClipInfo(
        path=path,
        start=datetime.fromtimestamp(packets[0].wall, UTC),
        end=datetime.fromtimestamp(max(p.wall for p in packets), UTC),
        duration=duration,
        frames=len(packets),
        bytes=path.stat().st_size,
    )


class Recorder:
    """The packet buffers of all cameras of a process, and clips cut from them."""

    def __init__(self, settings: RecordingSettings, media_dir: Path) -> None:
        self.settings = settings
        self.clips_dir = Path(media_dir) / "clips"
        self._buffers: dict[str, PacketBuffer] = {}
        self._lock = threading.Lock()

    def buffer(self, camera_id: str) -> PacketBuffer:
        """The camera's buffer (made on first use): pass it to the camera's reader as ``packets``."""
        with self._lock:
            buf = self._buffers.get(camera_id)
            if buf is None:
                buf = self._buffers[camera_id] = PacketBuffer(camera_id, self.settings.buffer_seconds)
            return buf

    def get(self, camera_id: str) -> PacketBuffer | None:
        with self._lock:
            return self._buffers.get(camera_id)

    def drop(self, camera_id: str) -> None:
        """Forget a removed camera's video."""
        with self._lock:
            self._buffers.pop(camera_id, None)

    def camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._buffers)

    def clip(self, camera_id: str, start: datetime, end: datetime, path: Path | None = None,
             timeout: float | None = None) -> Path:
        """Write the camera's video from the keyframe at/before ``start`` to ``end`` as MP4; its path.

        Blocks until ``end`` has arrived (up to ``recording.clip_timeout_seconds`` past it). The default
        path is ``<media>/clips/YYYY/MM/DD/<camera>-<HHMMSS>.mp4``.
        """
        buf = self.get(camera_id)
        if buf is None:
            raise ClipError(f"camera {camera_id!r} is not recorded (known: {', '.join(self.camera_ids()) or 'none'})")
        if path is None:
            at = start.astimezone(UTC)
            path = self.clips_dir / f"{at:%Y/%m/%d}" / f"{camera_id}-{at:%H%M%S}.mp4"
        wait = self.settings.clip_timeout_seconds if timeout is None else timeout
        return buf.write_clip(path, start, end, wait).path
