"""`gridwatch learn` by itself once a day at ``learning.nightly_at`` (local time), in the alerts process.

The part wakes every ``every_seconds`` and learns once the local clock has passed the next due time, then waits
for the same time the next day. A process started after today's time first learns tomorrow (a restart in the
day never trains in the day), and a night the process was down is not made up. Several alerts processes share
one database, so each night's learning is claimed with a Redis lease (``SET NX`` on that night's key): the
first process to reach the due time learns, the others skip that night. The lease is kept for a day and a half
so a process whose clock is a little late still finds it taken.

The clock is injectable (``now``), so tests drive a night without waiting for one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import redis
from sqlalchemy.engine import Engine

from alerts.verdict_learning import Outcome, learn
from gridwatch import keys
from gridwatch.lifecycle import Lifecycle
from gridwatch.loop import Periodic
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

LEASE_SECONDS = 36 * 3600
CHECK_SECONDS = 30.0  # how late after the due time a night's learning may start


def lease_key(night: date) -> str:
    return keys.learning_lease(night.isoformat())


def parse_at(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def next_due(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first ``at`` (local) strictly after ``after``, as an aware datetime in ``zone``."""
    local = after.astimezone(zone)
    due = datetime.combine(local.date(), at, tzinfo=zone)
    return due if due > local else datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)


class NightlyLearning(Periodic):
    """Learns every category once a day at ``at`` local time, one process of all through the lease."""

    def __init__(self, engine: Engine, client: redis.Redis, settings: Settings, holder: str,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 every_seconds: float = CHECK_SECONDS) -> None:
        super().__init__("nightly-learning", every_seconds)
        if settings.learning.nightly_at is None:
            raise ValueError("learning.nightly_at is unset: no nightly learning")
        self._engine = engine
        self._client = client
        self._learning = settings.learning
        self._at = parse_at(settings.learning.nightly_at)
        self._zone = ZoneInfo(settings.locale.timezone)
        self._holder = holder
        self._now = now
        self._due: datetime | None = None  # set at the first round, from the clock then
        self.nights: list[tuple[date, list[Outcome]]] = []  # what this process learnt, newest last (tests, logs)

    @property
    def due(self) -> datetime | None:
        """When this process next learns (None until its first round)."""
        return self._due

    def tick(self) -> None:
        now = self._now()
        if self._due is None:
            self._due = next_due(now, self._at, self._zone)
            log.info("nightly learning at %s %s; next %s", self._at.strftime("%H:%M"), self._zone.key,
                     self._due.isoformat())
            return
        if now < self._due:
            return
        night = self._due.date()
        # Redis down: this raises before the due time moves on, so the next round tries the night again.
        claimed = self._client.set(lease_key(night), self._holder, nx=True, ex=LEASE_SECONDS)
        self._due = next_due(now, self._at, self._zone)
        if not claimed:
            log.info("nightly learning of %s: another process (%s) has it", night, self._holder_of(night))
            return
        outcomes = learn(self._engine, self._learning)
        self.nights.append((night, outcomes))
        for o in outcomes:
            if o.filter_id is not None:
                log.info("nightly learning: category %s filter #%d in use (%d verdicts)", o.category, o.filter_id,
                         o.verdicts)
            else:
                log.info("nightly learning: %s", o.refused)

    def _holder_of(self, night: date) -> str:
        value = self._client.get(lease_key(night))
        return value.decode() if isinstance(value, bytes) else str(value)


def start_nightly_learning(settings: Settings, client: redis.Redis, engine: Engine, life: Lifecycle) -> None:
    """Start the part when ``learning.nightly_at`` is set (the composition root calls this for alerts processes)."""
    if settings.learning.nightly_at is None:
        return
    part = NightlyLearning(engine, client, settings, settings.worker.effective_id).start()
    life.started(f"nightly learning at {settings.learning.nightly_at}", part.stop)
