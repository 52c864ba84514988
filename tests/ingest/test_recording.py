"""Recording by stream copy: a rolling packet buffer fed by the reader, MP4 clips from a keyframe, retention."""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from ingest.recorder import ClipError, Recorder
from ingest.retention import RetentionSweeper
from tests.ingest.conftest import keyframe_gap, recording_settings, wait_for


def annexb_nals(data: bytes) -> list[bytes]:
    """NAL units of an Annex B access unit (start-code separated, as RTSP delivers H.264)."""
    parts = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") for p in parts if p]


def avcc_nals(data: bytes) -> list[bytes]:
    """NAL units of an MP4 sample (4-byte big-endian length before each)."""
    nals, i = [], 0
    while i < len(data):
        size = int.from_bytes(data[i:i + 4], "big")
        nals.append(data[i + 4:i + 4 + size].rstrip(b"\x00"))
        i += 4 + size
    return nals


def test_buffer_keeps_the_last_seconds_from_a_keyframe(recorded_camera: Recorder) -> None:
    buf = recorded_camera.get("rec-1")
    assert buf is not None
    wait_for(lambda: (s := buf.span()) is not None and (s[1] - s[0]).total_seconds() >= 8, 20, "8 s of video")
    time.sleep(1.5)  # keep streaming: the oldest GOPs must now be dropped, not pile up
    span = buf.span()
    assert span is not None
    gop = keyframe_gap(recorded_camera, "rec-1")
    length = (span[1] - span[0]).total_seconds()
    assert 8 <= length <= 8 + gop + 0.5  # the configured 8 s, plus at most the GOP it must start on
    _, packets = buf.select(0, time.time() + 60)
    assert packets[0].key  # the oldest buffered frame is a keyframe: a clip can start anywhere in it
    assert buf.buffered_bytes < 8 * 1024 * 1024  # ~9 s of 720p, compressed


def test_clip_is_a_stream_copy_from_the_keyframe_before_start(recorded_camera: Recorder, tmp_path: Path) -> None:
    buf = recorded_camera.get("rec-1")
    assert buf is not None
    wait_for(lambda: (s := buf.span()) is not None and (s[1] - s[0]).total_seconds() >= 5, 20, "5 s of video")
    now = datetime.now(UTC)
    start, end = now - timedelta(seconds=4), now - timedelta(seconds=1)
    path = recorded_camera.clip("rec-1", start, end, tmp_path / "clip.mp4")
    assert path == tmp_path / "clip.mp4" and path.stat().st_size > 10_000
    assert not list(tmp_path.glob("*.part"))  # written atomically
    segment, buffered = buf.select(start.timestamp(), end.timestamp())
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        file_packets = [p for p in c.demux(stream) if p.size]
    # Stream copy: the file holds exactly the camera's compressed frames (the same NAL units, byte for byte;
    # MP4 only frames them by length instead of start codes), from a keyframe.
    assert len(file_packets) == len(buffered)
    assert [avcc_nals(bytes(p)) for p in file_packets] == [annexb_nals(p.data) for p in buffered]
    assert file_packets[0].is_keyframe
    with av.open(str(path)) as c:
        pictures = list(c.decode(video=0))
    assert len(pictures) == len(file_packets) and pictures[0].key_frame
    # It covers [start, end], starting at most one GOP early.
    gop = keyframe_gap(recorded_camera, "rec-1")
    assert buffered[0].wall <= start.timestamp() < buffered[0].wall + gop + 0.1
    assert end.timestamp() - 0.1 <= buffered[-1].wall <= end.timestamp()
    with av.open(str(path)) as c:
        duration = float(c.duration or 0) / 1_000_000
    assert 3.0 - 0.1 <= duration <= 3.0 + gop + 0.1
    # faststart: the index (moov) comes before the media data (mdat), so a browser plays while loading.
    head = path.read_bytes()
    assert 0 < head.find(b"moov") < head.find(b"mdat")


def test_a_clip_ending_in_the_future_waits_for_its_end(recorded_camera: Recorder, tmp_path: Path) -> None:
    asked = datetime.now(UTC)
    end = asked + timedelta(seconds=1.5)
    path = recorded_camera.clip("rec-1", asked - timedelta(seconds=1), end, tmp_path / "future.mp4")
    returned = datetime.now(UTC)
    assert returned >= end  # it waited for the video to arrive
    with av.open(str(path)) as c:
        duration = float(c.duration or 0) / 1_000_000
    assert duration >= 2.5 - 0.1


def test_clip_errors_name_the_problem(recorded_camera: Recorder, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ClipError, match="'nope' is not recorded"):
        recorded_camera.clip("nope", now - timedelta(seconds=2), now)
    with pytest.raises(ClipError, match="no video buffered"):
        recorded_camera.clip("rec-1", now - timedelta(hours=2), now - timedelta(hours=1), tmp_path / "old.mp4")
    with pytest.raises(ClipError, match="not after its start"):
        recorded_camera.clip("rec-1", now, now - timedelta(seconds=1), tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="timezone-aware"):
        recorded_camera.clip("rec-1", datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 1), tmp_path / "x.mp4")
    assert not (tmp_path / "old.mp4").exists()


def test_default_clip_path_is_under_media_clips_by_date(recorded_camera: Recorder) -> None:
    now = datetime.now(UTC)
    path = recorded_camera.clip("rec-1", now - timedelta(seconds=2), now - timedelta(seconds=1))
    assert path.parent == recorded_camera.clips_dir / f"{now - timedelta(seconds=2):%Y/%m/%d}"
    assert path.name.startswith("rec-1-") and path.suffix == ".mp4"


def _media(folder: Path, rel: str, size: int, age_days: float, now: float) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    t = now - age_days * 86_400
    os.utime(path, (t, t))
    return path


def test_retention_deletes_by_age_then_oldest_above_the_size_limit(tmp_path: Path) -> None:
    now = time.time()
    clips, snaps = tmp_path / "clips", tmp_path / "snapshots"
    old = _media(clips, "2026/01/01/a.mp4", 1000, 40, now)
    old_snap = _media(snaps, "2026/01/01/a.jpg", 100, 35, now)
    mid = _media(clips, "2026/11/01/b.mp4", 600_000, 20, now)
    new = _media(clips, "2026/11/20/c.mp4", 600_000, 2, now)
    newest = _media(snaps, "2026/11/24/c.jpg", 100, 0.1, now)
    writing = _media(clips, "2026/11/24/.d.mp4.part", 50, 0.01, now)
    other = _media(tmp_path / "clips", "notes.txt", 10, 90, now)
    sweeper = RetentionSweeper([clips, snaps], max_days=30, max_gb=1_000_000 / 1024**3)
    result = sweeper.sweep(now)
    # 30 days: the two old files go; 1 MB: then the oldest of the rest (b) goes too.
    assert not old.exists() and not old_snap.exists() and not mid.exists()
    assert new.exists() and newest.exists() and writing.exists() and other.exists()
    assert result.deleted == 3 and result.freed_bytes == 601_100
    assert result.kept_bytes <= 1_000_000
    # Emptied date folders are gone; the swept folders themselves stay.
    assert not (clips / "2026" / "01").exists() and not (snaps / "2026" / "01").exists()
    assert clips.is_dir() and snaps.is_dir()
    assert sweeper.sweep(now).deleted == 0


def test_retention_sweeper_runs_in_the_background(tmp_path: Path) -> None:
    now = time.time()
    old = _media(tmp_path, "2026/01/01/a.mp4", 10, 3, now)
    sweeper = RetentionSweeper([tmp_path], max_days=1, max_gb=None, every_seconds=0.1).start()
    try:
        wait_for(lambda: not old.exists(), 5, "the sweeper to delete an old clip")
        late = _media(tmp_path, "2026/01/02/b.mp4", 10, 3, now)
        wait_for(lambda: not late.exists(), 5, "the next pass")
    finally:
        sweeper.stop()
    with pytest.raises(ValueError, match="retention days"):
        RetentionSweeper([tmp_path], max_days=0, max_gb=None)
    assert recording_settings().retention_days == 30
