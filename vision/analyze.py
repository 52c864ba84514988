"""Offline analysis with the live pipeline: a video file, an RTSP URL or a still image -> issue events.

``gridwatch analyze PATH_OR_URL [--out events.jsonl]`` writes one JSON line per issue (when it ends, so the
line carries its final first/last seen and its best snapshot), then one summary line. Frames are taken at
``ingest.detect_fps`` by their timestamps, as the live readers hand them over, and go through the same
detector, trackers, pose and rules (``vision.pipeline``) as the worker's.

A still image is a single sighting, so it is analysed as a patrol car would see it: the same picture for as
many frames as the rules need to confirm what they see, at one place.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.categories import category
from gridwatch.secrets import mask_url
from gridwatch.settings import Settings
from gridwatch.types import Frame, IssueEvent, Phase
from ingest.reader import configure_decoder
from vision.annotate import draw_issue_box

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
CAMERA_ID = "analyze"
# Frames detected together: a batch amortises the model call; tracking still goes frame by frame.
FILE_BATCH = 4
MAX_OFFSETS = 100_000


class SourceError(ValueError):
    """The source cannot be analysed (missing, not a picture or video, unreachable); the message says why."""


@dataclass
class Summary:
    source: str
    kind: str
    mobile: bool
    frames: int = 0
    video_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    issues: Counter[str] = field(default_factory=Counter)
    stale_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": True,
            "source": self.source,
            "kind": self.kind,
            "camera": "patrol" if self.mobile else "fixed",
            "frames": self.frames,
            "video_seconds": round(self.video_seconds, 2),
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "frames_per_second": round(self.frames / self.elapsed_seconds, 2) if self.elapsed_seconds > 0 else None,
            "issues": sum(self.issues.values()),
            "by_code": dict(sorted(self.issues.items())),
        }


def source_kind(source: str) -> str:
    """``stream`` (a URL), ``image`` or ``video``; SourceError for a missing file."""
    if "://" in source:
        return "stream"
    path = Path(source).expanduser()
    if not path.is_file():
        raise SourceError(f"no such file: {path}")
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "video"


def _read_image(path: Path) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path))
    if image is None:
        raise SourceError(f"{path} is not a readable image")
    return np.asarray(image, dtype=np.uint8)


def _still_frames(image: npt.NDArray[np.uint8], settings: Settings, start: datetime) -> Iterator[tuple[Frame, float]]:
    rules = settings.rules
    # Enough repeats for a posture to be confirmed and then counted at one place, or a class confirmed.
    count = max(rules.posture_window + rules.patrol_min_frames, rules.class_min_frames) + 1
    step = 1.0 / settings.ingest.detect_fps
    for n in range(count + 1):
        yield Frame(CAMERA_ID, n, start + timedelta(seconds=n * step), image), n * step


def _video_frames(source: str, settings: Settings, start: datetime, max_seconds: float | None,
                  progress: Any) -> Iterator[tuple[Frame, float]]:
    """Frames at ``detect_fps`` by presentation time; for streams, until ``max_seconds`` of video."""
    options = {"rtsp_transport": settings.ingest.rtsp_transport} if "://" in source else {}
    try:
        container = av.open(source, options=options, timeout=(settings.ingest.open_timeout_seconds,
                                                              settings.ingest.stall_seconds))
    except (av.error.FFmpegError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SourceError(f"cannot open {mask_url(source)}: {reason}") from None
    try:
        if not container.streams.video:
            raise SourceError(f"{mask_url(source)} has no video track")
        stream = container.streams.video[0]
        configure_decoder(stream, settings.ingest)
        period = 1.0 / settings.ingest.detect_fps
        next_t = 0.0
        first_t: float | None = None
        seq = 0
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else seq * period
            if first_t is None:
                first_t = t
            offset = t - first_t
            if max_seconds is not None and offset > max_seconds:
                break
            if progress is not None:
                progress.update(1)
            if offset < next_t - 1e-6:
                continue
            # An even cadence on average, never catching up after a gap (as the live readers hand over).
            nxt = next_t + period
            next_t = nxt if nxt > offset else offset + period
            image = cast("npt.NDArray[np.uint8]", frame.to_ndarray(format="bgr24"))
            yield Frame(CAMERA_ID, seq, start + timedelta(seconds=offset), image), offset
            seq += 1
    except av.error.FFmpegError as exc:
        raise SourceError(f"decoding {mask_url(source)} failed: {exc.strerror or type(exc).__name__}") from None
    finally:
        container.close()


def _frame_count(source: str) -> int | None:
    try:
        with av.open(source) as container:
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames)
            if stream.duration and stream.time_base and stream.average_rate:
                return int(float(stream.duration * stream.time_base) * float(stream.average_rate))
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    return None


def save_snapshot(event: IssueEvent, folder: Path) -> Path | None:
    """The issue's best frame as a JPEG with its box drawn; None when the event has no snapshot."""
    if event.snapshot is None:
        return None
    image = event.snapshot.copy()
    x1, y1, x2, y2 = (round(v) for v in event.bbox)
    draw_issue_box(image, (x1, y1, x2, y2))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{event.event_id}.jpg"
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"could not write snapshot {path}")
    return path


def event_record(event: IssueEvent, start: datetime, snapshot: Path | None,
                 snapshot_s: float | None = None) -> dict[str, Any]:
    """One JSON line: what a supervisor needs to find the issue in the footage."""
    cat = category(event.category)
    return {
        "event_id": event.event_id,
        "code": cat.code,
        "category": cat.name_en,
        "category_zh": cat.name_zh,
        "confidence": round(float(event.confidence), 4),
        "first_seen": event.first_seen.isoformat(),
        "last_seen": event.last_seen.isoformat(),
        "first_s": round((event.first_seen - start).total_seconds(), 2),
        "last_s": round((event.last_seen - start).total_seconds(), 2),
        "bbox": [round(float(v), 1) for v in event.bbox],
        "track_id": int(event.track_id),
        "lat": event.fix.lat if event.fix else None,
        "lon": event.fix.lon if event.fix else None,
        "snapshot": str(snapshot) if snapshot is not None else None,
        "snapshot_s": None if snapshot_s is None else round(snapshot_s, 2),  # where in the footage it was taken
        # What the rule saw in the snapshot (vision.evidence): what the verdict filter learns from.
        "features": {} if event.evidence is None else event.evidence.feature_map(),
    }


def analyze(
    source: str,
    settings: Settings,
    out: IO[str],
    snapshots: Path,
    mobile: bool | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
    detector: Any = None,
    pose: Any = "settings",
    per_input: int = 1,
) -> Summary:
    """Run the pipeline over ``source``, writing JSON lines to ``out`` and snapshots into ``snapshots``.

    ``mobile``: None = a patrol car for stills, a fixed camera for video. ``progress``: None = a bar on
    files when stderr is a terminal. ``detector``/``pose`` may be given to reuse loaded models. ``per_input``:
frames of the footage sharing one model input, as a loaded live worker stacks them (evaluation only).
    """
    from vision.pipeline import CameraPipeline, process_batch
    from vision.pose import PoseEstimator
    from vision.yolo import Detector, ProgressBar
    from vision.zones import CameraView

    kind = source_kind(source)
    mobile = (kind == "image") if mobile is None else mobile
    shown = mask_url(source)
    summary = Summary(source=shown, kind=kind, mobile=mobile)
    # Recorded footage has no deadline: by default frames are not stacked (vision.stacking), so small people
    # keep their full size.
    if detector is None:
        detector = Detector(settings.vision)
    if pose == "settings":
        wanted = settings.vision.pose_model is not None and "vagrant" in settings.rules.enabled
        pose = PoseEstimator(settings.vision) if wanted and detector.task != "pose" else None
    view = CameraView.simple(CAMERA_ID, mobile=mobile, rules=settings.rules)
    pipe = CameraPipeline(view, settings.vision, settings.rules, settings.ingest.detect_fps)
    start = datetime.now(UTC).replace(microsecond=0)
    bar = None
    if kind == "video" and progress is not False:
        show = sys.stderr.isatty() if progress is None else progress
        bar = ProgressBar(total=_frame_count(source), unit="frame", desc=Path(source).name, disable=not show,
                          file=sys.stderr)
    frames = (_still_frames(_read_image(Path(source)), settings, start) if kind == "image"
              else _video_frames(source, settings, start, max_seconds, bar))
    log.info("analysing %s (%s, %s camera) at %.1f fps", shown, kind, "patrol" if mobile else "fixed",
             settings.ingest.detect_fps)

    # Frame picture -> its offset in the footage, to say when an issue's snapshot was taken. A snapshot keeps
    # its picture alive, so its id cannot be taken by a later frame meanwhile.
    offsets: dict[int, float] = {}

    def emit(events: list[IssueEvent]) -> None:
        for event in events:
            if event.phase is not Phase.END:
                continue
            snap = save_snapshot(event, snapshots)
            taken = offsets.get(id(event.snapshot)) if event.snapshot is not None else None
            out.write(json.dumps(event_record(event, start, snap, taken), ensure_ascii=False) + "\n")
            out.flush()
            summary.issues[event.category] += 1

    began = time.perf_counter()
    batch: list[tuple[Any, Frame]] = []
    last_offset = 0.0
    try:
        for frame, offset in frames:
            batch.append((pipe, frame))
            last_offset = offset
            offsets[id(frame.image)] = offset
            if len(offsets) > MAX_OFFSETS:
                offsets.pop(next(iter(offsets)))
            if len(batch) >= (1 if kind == "stream" else max(FILE_BATCH, per_input)):
                results, _ = process_batch(detector, pose, batch, settings.vision, settings.rules, per_input)
                emit([e for r in results for e in r.events])
                summary.frames += len(batch)
                batch = []
        if batch:
            results, _ = process_batch(detector, pose, batch, settings.vision, settings.rules, per_input)
            emit([e for r in results for e in r.events])
            summary.frames += len(batch)
    except KeyboardInterrupt:
        log.info("interrupted; ending open issues")
    finally:
        if bar is not None:
            bar.close()
    emit(pipe.finish())
    summary.video_seconds = last_offset
    summary.elapsed_seconds = time.perf_counter() - began
    out.write(json.dumps(summary.to_json(), ensure_ascii=False) + "\n")
    out.flush()
    return summary
