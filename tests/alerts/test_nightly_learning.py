"""Nightly learning (learning.nightly_at): two alerts processes over one database and one Redis, their clock
driven through a night instead of waited for. Nothing is learnt in the day a process starts, one of them learns
at the set local time (the night's lease), once, and again the next night; the part on its own thread does too."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from verdict_testing import verdicts_where_benches_mean_false

from alerts import filters
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.nightly_learning import NightlyLearning
from alerts.repository import Repository
from alerts.sink import AlertSink
from centre.cases import start_cases
from geo.grids import GridIndex
from geo.routing import GridRouter
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings, SettingsError, load_settings
from tests.alerts.alerts_testing import wait_until

SHANGHAI = 8  # hours ahead of UTC (no daylight saving)


class Clock:
    """The processes' clock, set by the test."""

    def __init__(self, local: datetime) -> None:
        self.set(local)

    def set(self, local: datetime) -> None:
        self.utc = (local - timedelta(hours=SHANGHAI)).replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.utc


def _settings(tmp_path: Path) -> Settings:
    return load_settings(None, data_dir=tmp_path / "data", demo={"enabled": False},
                         learning={"nightly_at": "03:00", "min_per_class": 10},
                         locale={"timezone": "Asia/Shanghai"})


@pytest.fixture()
def seeded(repo: Repository, router: GridRouter, service: CaseService, work: Casework,
           redis_client: redis.Redis, tmp_path: Path) -> Repository:
    sink = AlertSink(repo, redis_client, tmp_path / "media", GridIndex(repo.list_grids()))
    verdicts_where_benches_mean_false(sink, service, work, 40)
    return repo


def test_one_of_two_processes_learns_once_at_the_set_local_time_each_night(
    seeded: Repository, redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    clock = Clock(datetime(2026, 12, 5, 12, 0))  # both processes start at noon
    a = NightlyLearning(seeded.engine, redis_client, settings, "alerts-a", now=clock)
    b = NightlyLearning(seeded.engine, redis_client, settings, "alerts-b", now=clock)
    for part in (a, b):
        part.tick()
    clock.set(datetime(2026, 12, 5, 23, 59))
    for part in (a, b):
        part.tick()
    clock.set(datetime(2026, 12, 6, 2, 59))
    for part in (a, b):
        part.tick()
    assert (a.nights, b.nights, filters.active(seeded.engine)) == ([], [], {})  # no learning in the day
    clock.set(datetime(2026, 12, 6, 3, 0, 20))
    a.tick()
    b.tick()  # the same night: a has its lease
    [(night, outcomes)] = a.nights
    assert night.isoformat() == "2026-12-06" and b.nights == []
    [learnt] = outcomes
    first = filters.active(seeded.engine)["0502"].id
    assert learnt.filter_id == first
    clock.set(datetime(2026, 12, 6, 9, 0))
    a.tick()
    b.tick()
    assert len(a.nights) == 1 and b.nights == []  # once a night
    clock.set(datetime(2026, 12, 7, 3, 1))
    b.tick()  # next night b is first
    a.tick()
    assert len(a.nights) == 1 and [n.isoformat() for n, _ in b.nights] == ["2026-12-07"]


def test_the_part_learns_on_its_own_thread_when_its_clock_passes_the_time(
    seeded: Repository, redis_client: redis.Redis, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 12, 5, 2, 59, 50))
    part = NightlyLearning(seeded.engine, redis_client, _settings(tmp_path), "alerts-a", now=clock,
                           every_seconds=0.05).start()
    try:
        wait_until(lambda: part.due is not None, 30, "the part's first round")
        clock.set(datetime(2026, 12, 5, 3, 0, 10))
        wait_until(lambda: bool(part.nights), 120, "the night's learning")
    finally:
        part.stop(timeout=60)
    assert "0502" in filters.active(seeded.engine)


def test_nightly_at_must_be_a_time_of_day(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nightly_at"):
        load_settings(None, data_dir=tmp_path, learning={"nightly_at": "25:00"})
    assert load_settings(None, data_dir=tmp_path).learning.nightly_at is None  # off unless set


def _nightly_running() -> bool:
    return any(t.name == "nightly-learning" and t.is_alive() for t in threading.enumerate())


def test_an_alerts_process_runs_the_part_only_when_nightly_at_is_set(
    repo: Repository, router: GridRouter, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """The composition root's case consumer (gridwatch run / gridwatch alerts) with and without the setting."""
    off = load_settings(None, data_dir=tmp_path / "off", demo={"enabled": False})
    with Lifecycle() as life:
        start_cases(off, redis_client, repo, life)
        assert not _nightly_running()
    with Lifecycle() as life:
        start_cases(_settings(tmp_path), redis_client, repo, life)
        assert _nightly_running()
    wait_until(lambda: not _nightly_running(), 30, "the part to stop with the process")
