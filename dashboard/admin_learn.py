"""The admin page's "learn from verdicts": the learning of `gridwatch learn` (``alerts.verdict_learning.learn``)
off the request thread, one run at a time per dashboard process, its progress and outcomes kept for the page to
poll with a ``dcc.Interval`` (as the replay's re-run is).

Training a category takes seconds to a few minutes on a 2-core server that also serves the wall, so a second
click while a run goes on does not start another: it is answered with the run already going (and who started
it), whose progress the page then shows. Only the latest run is remembered; a page polling an older one is told
it is gone.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from alerts.verdict_learning import Outcome, Overall, learn
from dashboard.page_services import PageServices
from gridwatch.settings import LearningSettings

log = logging.getLogger(__name__)


class RunState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class LearnRun:
    run_id: int
    started_by: str
    state: RunState = RunState.RUNNING
    category: str | None = None  # the category being learnt now
    fraction: float = 0.0  # of the whole run, 0..1
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None


Work = Callable[[Overall], list[Outcome]]


class LearnJobs:
    """This process's learning runs: ``start`` begins one unless one is running; ``get`` reads a run by id."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="admin-learn")
        self._lock = threading.Lock()
        self._run: LearnRun | None = None

    def start(self, started_by: str, work: Work) -> tuple[LearnRun, bool]:
        """The new run and True, or the run still going and False (nothing started)."""
        with self._lock:
            if self._run is not None and self._run.state is RunState.RUNNING:
                return self._run, False
            run = LearnRun(run_id=(self._run.run_id + 1) if self._run else 1, started_by=started_by)
            self._run = run
        log.info("learning from verdicts started by %s (run %d)", started_by, run.run_id)
        self._pool.submit(self._work, run.run_id, work)
        return run, True

    def latest(self) -> LearnRun | None:
        with self._lock:
            return self._run

    def get(self, run_id: int) -> LearnRun | None:
        with self._lock:
            return self._run if self._run is not None and self._run.run_id == run_id else None

    def _update(self, run_id: int, **changes: object) -> None:
        with self._lock:
            if self._run is not None and self._run.run_id == run_id:
                self._run = dataclasses.replace(self._run, **changes)  # type: ignore[arg-type]

    def _work(self, run_id: int, work: Work) -> None:
        try:
            outcomes = work(lambda category, fraction: self._update(run_id, category=category, fraction=fraction))
        except Exception as exc:  # noqa: BLE001 - the page says why; the dashboard goes on
            log.exception("learning from verdicts (run %d) failed", run_id)
            self._update(run_id, state=RunState.FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        self._update(run_id, state=RunState.DONE, fraction=1.0, outcomes=tuple(outcomes))


JOBS = LearnJobs()  # this process's runs (the dashboard runs one process; each has its own)


def start(jobs: LearnJobs, svc: PageServices, settings: LearningSettings, started_by: str) -> tuple[LearnRun, bool]:
    """Learn every category with verdicts, as `gridwatch learn` does, in the background."""
    return jobs.start(started_by, lambda overall: learn(svc.repo.engine, settings, overall=overall))
