"""Local recording: each camera's video in short MP4 segments on the car's disk, bounded by a disk cap.

Recording never depends on the link: it is what the command centre fetches to replay a gap. Segments are
cut at the first keyframe after ``segment_seconds`` and named by the UTC capture times they cover,
``<segment_dir>/<camera>/<start>_<end>.mp4`` (``20261124T080000.000Z``), so listing a time range needs no
index. They are fragmented MP4 (a fragment per keyframe): a car losing power mid-segment leaves a
``.part`` file that is still readable and is recovered at the next start.

``SegmentStore.enforce`` deletes the oldest finished segments (of any camera) while the total is over the
cap, counts them and says so in the log; recording itself goes on.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import av.error
from av.container import OutputContainer
from av.video.stream import VideoStream

from patrol.source import SourcePacket, StreamInfo

log = logging.getLogger(__name__)

_STAMP = "%Y%m%dT%H%M%S"
SEGMENT_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{3}Z)_(\d{8}T\d{6}\.\d{3}Z)\.mp4$")
PART = ".part"
# Flushed at every fragment (keyframe): after a power cut the file on disk ends at the last whole fragment.
MP4_OPTIONS = {"movflags": "+frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


def stamp(t: float) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    return f"{dt:{_STAMP}}.{dt.microsecond // 1000:03d}Z"


def parse_stamp(s: str) -> datetime:
    return datetime.strptime(s, f"{_STAMP}.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SegmentFile:
    camera_id: str
    start: datetime
    end: datetime
    path: Path
    bytes: int

    @property
    def name(self) -> str:
        return self.path.name


class SegmentStore:
    """All cameras' finished segments under ``root``, and the disk cap over them."""

    def __init__(self, root: Path, cap_bytes: int) -> None:
        self.root = Path(root)
        self.cap_bytes = cap_bytes
        self.dropped = 0
        self.dropped_bytes = 0
        self.last_drop: str | None = None
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)

    def camera_dir(self, camera_id: str) -> Path:
        d = self.root / camera_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def segments(self, camera_id: str | None = None, start: datetime | None = None,
                 end: datetime | None = None) -> list[SegmentFile]:
        """Finished segments overlapping [start, end] (either open), oldest first."""
        found: list[SegmentFile] = []
        dirs = [self.root / camera_id] if camera_id else [d for d in self.root.iterdir() if d.is_dir()]
        for d in dirs:
            if not d.is_dir():
                continue
            for entry in os.scandir(d):
                m = SEGMENT_NAME.match(entry.name)
                if m is None:
                    continue
                s, e = parse_stamp(m.group(1)), parse_stamp(m.group(2))
                if (start is not None and e < start) or (end is not None and s > end):
                    continue
                try:
                    size = entry.stat().st_size
                except FileNotFoundError:
                    continue  # dropped by the cap meanwhile
                found.append(SegmentFile(d.name, s, e, Path(entry.path), size))
        found.sort(key=lambda f: (f.start, f.camera_id))
        return found

    def total_bytes(self) -> int:
        total = 0
        for d in self.root.iterdir():
            if d.is_dir():
                for entry in os.scandir(d):
                    try:
                        total += entry.stat().st_size
                    except FileNotFoundError:
                        continue
        return total

    def enforce(self, reserve: int = 0) -> int:
        """Delete the oldest finished segments until they and ``reserve`` bytes fit the cap; how many went."""
        with self._lock:
            total = self.total_bytes()
            if total + reserve <= self.cap_bytes:
                return 0
            n = 0
            for seg in self.segments():
                if total + reserve <= self.cap_bytes:
                    break
                try:
                    seg.path.unlink()
                except FileNotFoundError:
                    continue
                total -= seg.bytes
                n += 1
                self.dropped += 1
                self.dropped_bytes += seg.bytes
                self.last_drop = f"{seg.camera_id}/{seg.name}"
                log.warning("disk cap of %.1f MB reached: dropped the oldest segment %s/%s (%d kB); %d segments "
                            "dropped so far", self.cap_bytes / 1e6, seg.camera_id, seg.name, seg.bytes // 1024,
                            self.dropped)
            return n

    def recover(self) -> int:
        """Finish ``.part`` segments left by a crash or power cut (readable ones renamed, others deleted)."""
        n = 0
        for part in self.root.glob(f"*/*.mp4{PART}"):
            start = parse_stamp(part.name.split(".mp4")[0]).timestamp()
            try:
                with av.open(str(part)) as c:
                    stream = c.streams.video[0]
                    last = max((p.pts for p in c.demux(stream) if p.pts is not None), default=None)
                    seconds = 0.0 if last is None or stream.time_base is None else float(last * stream.time_base)
            except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
                log.warning("unreadable leftover segment %s deleted: %s", part, exc)
                part.unlink(missing_ok=True)
                continue
            final = part.with_name(f"{stamp(start)}_{stamp(start + seconds)}.mp4")
            os.replace(part, final)
            log.info("recovered segment %s after an unclean stop", final)
            n += 1
        return n


class SegmentRecorder:
    """One camera's segment writer; ``write`` is called from the camera's thread for every packet."""

    def __init__(self, camera_id: str, store: SegmentStore, segment_seconds: float) -> None:
        self.camera_id = camera_id
        self.store = store
        self.segment_seconds = segment_seconds
        self.segments_written = 0
        self.write_errors = 0
        self.last_error: str | None = None
        self._out: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._info: StreamInfo | None = None
        self._part: Path | None = None
        self._start_wall = 0.0
        self._last_wall = 0.0
        self._base = 0
        self._last_size = 0

    @property
    def recording(self) -> bool:
        return self._out is not None

    def write(self, p: SourcePacket) -> None:
        if self._out is not None and (p.info is not self._info or
                                      (p.key and p.wall - self._start_wall >= self.segment_seconds)):
            self.close()
        if self._out is None:
            if not p.key:
                return  # a segment must start with a picture a player can decode on its own
            if not self._open(p):
                return
        assert self._out is not None and self._stream is not None and self._info is not None
        pkt = av.Packet(p.data)
        pkt.pts = p.pts - self._base
        pkt.dts = p.dts - self._base
        pkt.duration = self._info.frame_ticks
        pkt.time_base = self._info.time_base
        pkt.is_keyframe = p.key
        pkt.stream = self._stream
        try:
            self._out.mux(pkt)
        except (av.error.FFmpegError, OSError) as exc:
            self._failed(f"writing {self._part}: {exc}")
            return
        self._last_wall = p.wall

    def _open(self, p: SourcePacket) -> bool:
        # Room for this segment first: a full disk must cost the oldest video, not the newest.
        self.store.enforce(reserve=self._last_size)
        self._part = self.store.camera_dir(self.camera_id) / f"{stamp(p.wall)}.mp4{PART}"
        try:
            out = av.open(str(self._part), "w", format="mp4", options=MP4_OPTIONS)
            self._stream = out.add_stream_from_template(p.info.template)
        except (av.error.FFmpegError, OSError) as exc:
            self._failed(f"cannot start segment {self._part}: {exc}")
            return False
        self._out = out
        self._info = p.info
        self._base = p.dts
        self._start_wall = self._last_wall = p.wall
        return True

    def close(self) -> None:
        """Finish the current segment (if any) under its final name."""
        out, part, info = self._out, self._part, self._info
        self._out = None
        self._stream = None
        if out is None or part is None or info is None:
            return
        try:
            out.close()
            end = self._last_wall + float(info.frame_ticks * info.time_base)
            final = part.with_name(f"{stamp(self._start_wall)}_{stamp(end)}.mp4")
            os.replace(part, final)
            self._last_size = final.stat().st_size
        except (av.error.FFmpegError, OSError) as exc:
            self._failed(f"cannot finish segment {part}: {exc}")
            return
        self.segments_written += 1
        log.debug("camera %s: segment %s (%d kB)", self.camera_id, final.name, self._last_size // 1024)
        self.store.enforce()

    def _failed(self, reason: str) -> None:
        self.write_errors += 1
        self.last_error = reason
        log.error("camera %s: %s; dropping the oldest segments and starting a new one", self.camera_id, reason)
        out, self._out, self._stream = self._out, None, None
        if out is not None:
            try:
                out.close()
            except (av.error.FFmpegError, OSError):
                pass  # the disk is what failed; the partial file is recovered or deleted at the next start
        self.store.enforce(reserve=max(self._last_size, 1))
