"""Clips for alerts: ``request(alert_id, camera_id, at)`` returns at once; the MP4 is written later.

A request is due when its end (``at + post_seconds``) has passed; a scheduler thread then checks that the
camera's buffer holds the video up to that end (or gives up waiting after ``clip_timeout_seconds`` and
writes what there is) and hands the remux to a small pool of writer threads. Nothing here ever blocks the
caller: the vision loop only pushes a request onto a heap.

Clips go to ``<media_dir>/clips/YYYY/MM/DD/<alert_id>.mp4`` (UTC date of the alert), beside the alert
snapshots in ``<media_dir>/snapshots/...``; ``relative_path()`` gives the path to store with the alert.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from gridwatch.loop import ThreadPart
from gridwatch.media import clip_relpath
from gridwatch.settings import RecordingSettings
from ingest.recorder import ClipError, Recorder

log = logging.getLogger(__name__)

RECHECK_S = 0.25


@dataclass(order=True)
class _Job:
    due: float  # monotonic: when to look at the buffer again
    seq: int
    alert_id: str = field(compare=False)
    camera_id: str = field(compare=False)
    start: datetime = field(compare=False)
    end: datetime = field(compare=False)
    give_up: float = field(compare=False)  # monotonic: write what there is after this
    path: Path = field(compare=False)
    future: Future[Path] = field(compare=False)


def _fail(future: Future[Path], exc: BaseException) -> None:
    if not future.done():  # the caller may have cancelled it
        future.set_exception(exc)


class ClipService(ThreadPart):
    """``ClipService(recorder, media_dir, settings).start()``; ``request(...)`` -> ``Future[Path]``; ``stop()``."""

    def __init__(self, recorder: Recorder, media_dir: Path, settings: RecordingSettings, writers: int = 2) -> None:
        super().__init__("clip-scheduler")
        self._recorder = recorder
        self.media_dir = Path(media_dir)
        self._settings = settings
        self._writers = writers
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._pool: ThreadPoolExecutor | None = None

    @staticmethod
    def relative_path(alert_id: str, at: datetime) -> str:
        """Where the clip of this alert goes, relative to the media folder (gridwatch.media's convention)."""
        return clip_relpath(alert_id, at)

    def start(self) -> ClipService:
        if self._pool is None:  # a new one after each stop, which shuts it down
            self._pool = ThreadPoolExecutor(self._writers, thread_name_prefix="clip-writer")
        return super().start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop: pending requests fail with ClipError; clips being written are finished first."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()  # the scheduler waits on the condition, not on the stop event
        ended = super().stop(timeout)
        with self._cond:
            pending, self._jobs = self._jobs, []
        for job in pending:
            _fail(job.future, ClipError(f"clip of alert {job.alert_id} not written: service stopped"))
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        return ended

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def request(self, alert_id: str, camera_id: str, at: datetime,
                pre_seconds: float | None = None, post_seconds: float | None = None) -> Future[Path]:
        """Schedule the clip [at - pre, at + post] of ``camera_id``; the future gives the MP4's path.

        Returns at once. The future fails with ClipError (camera not recorded, no video in the span) or
        ValueError (bad alert id / naive time, raised here already).
        """
        rel = self.relative_path(alert_id, at)
        pre = self._settings.pre_seconds if pre_seconds is None else pre_seconds
        post = self._settings.post_seconds if post_seconds is None else post_seconds
        start, end = at - timedelta(seconds=pre), at + timedelta(seconds=post)
        future: Future[Path] = Future()
        if self._thread is None or self._stop.is_set():
            future.set_exception(ClipError(f"clip of alert {alert_id} not written: the clip service is not running"))
            return future
        now_mono, now_wall = time.monotonic(), time.time()
        due = now_mono + max(0.0, end.timestamp() - now_wall)
        job = _Job(due=due, seq=next(self._seq), alert_id=alert_id, camera_id=camera_id, start=start, end=end,
                   give_up=due + self._settings.clip_timeout_seconds, path=self.media_dir / rel, future=future)
        with self._cond:
            heapq.heappush(self._jobs, job)
            self._cond.notify_all()
        log.debug("clip of alert %s (camera %s) scheduled, due in %.1f s", alert_id, camera_id, due - now_mono)
        return future

    # ---- scheduler ------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                now = time.monotonic()
                if not self._jobs or self._jobs[0].due > now:
                    wait = (self._jobs[0].due - now) if self._jobs else 1.0
                    self._cond.wait(min(wait, 1.0))
                    continue
                job = heapq.heappop(self._jobs)
            try:
                self._check(job, now)
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the scheduler
                if not isinstance(exc, ClipError):
                    log.exception("clip of alert %s failed", job.alert_id)
                else:
                    log.warning("%s", exc)
                _fail(job.future, exc)

    def _check(self, job: _Job, now: float) -> None:
        buf = self._recorder.get(job.camera_id)
        if buf is None:
            raise ClipError(f"camera {job.camera_id!r} is not recorded; no clip for alert {job.alert_id}")
        if not buf.wait_for(job.end.timestamp(), 0) and now < job.give_up:
            job.due = now + RECHECK_S
            with self._cond:
                heapq.heappush(self._jobs, job)
            return
        assert self._pool is not None
        self._pool.submit(self._write, job)

    def _write(self, job: _Job) -> None:
        if job.future.set_running_or_notify_cancel():
            try:
                buf = self._recorder.get(job.camera_id)
                if buf is None:
                    raise ClipError(f"camera {job.camera_id!r} was removed before the clip of {job.alert_id}")
                info = buf.write_clip(job.path, job.start, job.end, timeout=0)
                job.future.set_result(info.path)
            except Exception as exc:  # noqa: BLE001 - the failure travels in the future
                log.warning("clip of alert %s (camera %s) not written: %s", job.alert_id, job.camera_id, exc)
                job.future.set_exception(exc)
