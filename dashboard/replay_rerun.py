"""The replay's "re-run with today's rules": a flagged alert's clip through the dashboard's own settings, off the
request thread, and what those rules would raise now.

The work is ``vision.analyze.analyze`` (the same detector, trackers, pose and rules as ``gridwatch analyze``; the
dashboard never touches Ultralytics itself). It takes tens of seconds on a 2-core server that also serves the
wall, so :class:`RerunJobs` runs one job at a time per process, one job per alert id, and keeps the results in
memory (the settings of a dashboard process do not change while it runs, so a result stays true for it); the page
polls :meth:`RerunJobs.get` with a ``dcc.Interval``.
"""
from __future__ import annotations

import io
import json
import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alerts.clearance import is_mobile
from dashboard import replay_queries
from dashboard.page_services import PageServices
from gridwatch import media
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

KEEP_RESULTS = 64  # finished jobs remembered per process; the oldest are forgotten first


@dataclass(frozen=True)
class RerunEvent:
    code: str  # category code, e.g. "0502"
    first_s: float  # seconds into the clip
    last_s: float
    confidence: float


@dataclass(frozen=True)
class RerunResult:
    original_code: str  # the category the alert was raised for
    events: tuple[RerunEvent, ...]
    frames: int
    clip_seconds: float

    @property
    def still_raised(self) -> bool:
        """Whether today's rules would raise the alert's category in this clip."""
        return any(e.code == self.original_code for e in self.events)


def rerun_clip(clip: Path, original_code: str, settings: Settings, mobile: bool) -> RerunResult:
    """Analyse ``clip`` under ``settings`` as the camera that recorded it (patrol car or fixed) would."""
    from vision.analyze import analyze

    buffer = io.StringIO()
    # The snapshots analyze writes are not shown here: a throwaway folder.
    with tempfile.TemporaryDirectory(prefix="gridwatch-rerun-") as snaps:
        summary = analyze(str(clip), settings, buffer, Path(snaps), mobile=mobile, progress=False)
    rows = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    events = tuple(
        RerunEvent(str(r["code"]), float(r["first_s"]), float(r["last_s"]), float(r["confidence"]))
        for r in rows if not r.get("summary")
    )
    return RerunResult(original_code, tuple(sorted(events, key=lambda e: e.first_s)), summary.frames,
                       summary.video_seconds)


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for the one job ahead of it
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    alert_id: str
    case_id: str
    state: JobState
    result: RerunResult | None = None
    error: str | None = None


class RerunJobs:
    """Background re-runs keyed by alert id: one running at a time, each alert's result kept once done."""

    def __init__(self, keep: int = KEEP_RESULTS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-rerun")
        self._jobs: OrderedDict[str, tuple[str, Future[RerunResult]]] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, alert_id: str, case_id: str, work: Callable[[], RerunResult]) -> Job:
        """Start ``work`` for the alert unless a job for it is queued, running or done (a failed one is retried)."""
        with self._lock:
            known = self._jobs.get(alert_id)
            if known is None or _state(known[1]) is JobState.FAILED:
                self._jobs[alert_id] = (case_id, self._pool.submit(work))
                self._forget_old()
            case, future = self._jobs[alert_id]
            return _job(alert_id, case, future)

    def get(self, alert_id: str) -> Job | None:
        with self._lock:
            known = self._jobs.get(alert_id)
        return None if known is None else _job(alert_id, known[0], known[1])

    def _forget_old(self) -> None:
        finished = [a for a, (_, f) in self._jobs.items() if f.done()]
        for alert_id in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[alert_id]


def _state(future: Future[RerunResult]) -> JobState:
    if not future.done():
        return JobState.RUNNING if future.running() else JobState.QUEUED
    return JobState.FAILED if future.exception() is not None else JobState.DONE


def _job(alert_id: str, case_id: str, future: Future[RerunResult]) -> Job:
    state = _state(future)
    if state is JobState.DONE:
        return Job(alert_id, case_id, state, result=future.result())
    if state is JobState.FAILED:
        exc = future.exception()
        return Job(alert_id, case_id, state, error=f"{type(exc).__name__}: {exc}")
    return Job(alert_id, case_id, state)


JOBS = RerunJobs()  # this process's queue (the dashboard runs one process; each has its own)


class NoClipError(LookupError):
    """The sighting has no alert or its clip is not written (yet)."""


def start(jobs: RerunJobs, svc: PageServices, settings: Settings, case_id: str, alert_id: str | None,
          scope: str | None, role: str) -> Job:
    """Queue the re-run of the case's alert (``alert_id``, else its latest) clip; ScopeError outside the user's
    grid, NoClipError without a clip."""
    r = replay_queries.replay(svc, settings.media_dir, case_id, alert_id, scope, role,
                              settings.recording.pre_seconds)
    if r.hit is None or r.hit.alert_id is None or r.clip_url is None:
        raise NoClipError(f"case {case_id} has no clip to re-run")
    clip = settings.media_dir / r.clip_url.removeprefix(media.MEDIA_URL_PREFIX)
    camera = next((c for c in settings.cameras if c.id == r.hit.camera_id), None)
    mobile = is_mobile(camera)  # a camera no longer configured is taken as fixed
    code = r.hit.category
    log.info("re-running alert %s (%s) with today's rules", r.hit.alert_id, clip.name)
    return jobs.submit(r.hit.alert_id, case_id, lambda: rerun_clip(clip, code, settings, mobile))
