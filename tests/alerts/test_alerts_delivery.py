"""Delivery without loss: outbox -> relay -> Redis Stream -> consumer group, on SQLite and PostgreSQL, real Redis."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from alerts_testing import issue_event, wait_until
from sqlalchemy.engine import Connection

from alerts import inbox
from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.consumer import BatchHandler, StreamConsumer
from alerts.models import OutboxRow
from alerts.outbox import OutboxRelay
from alerts.repository import Repository
from alerts.sink import AlertSink
from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch import keys
from gridwatch.events import alert_to_stream
from gridwatch.redis_server import EmbeddedRedis, free_port
from gridwatch.types import Alert


class Recorder:
    """A handler that remembers every alert it was given, in order (thread-safe)."""

    def __init__(self, fail_for: set[str] | None = None, then: BatchHandler | None = None) -> None:
        self.ids: list[str] = []
        self.fail_for = fail_for or set()
        self.then = then
        self._lock = threading.Lock()

    def __call__(self, conn: Connection, alerts: Sequence[Alert]) -> None:
        bad = [a.id for a in alerts if a.id in self.fail_for]
        if bad:
            raise ValueError(f"cannot take alert {bad[0]}")
        if self.then is not None:
            self.then(conn, alerts)
        with self._lock:
            self.ids.extend(a.id for a in alerts)


def _outbox_states(repo: Repository) -> dict[str, int]:
    t = OutboxRow.__table__
    with repo.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.sent_at, t.c.confirmed_at)).all()  # type: ignore[attr-defined]
    return {
        "pending": sum(1 for s, _ in rows if s is None),
        "sent": sum(1 for s, c in rows if s is not None and c is None),
        "confirmed": sum(1 for _, c in rows if c is not None),
    }


def _inbox_count(repo: Repository) -> int:
    with repo.engine.connect() as conn:
        return inbox.count(conn, inbox.CASES_GROUP)


def test_redis_restarted_in_the_middle_of_a_burst_loses_nothing_and_doubles_nothing(
    repo: Repository, tmp_path: Path, fixed_port_redis: Callable[[], EmbeddedRedis], demo_features: list[GridFeature]
) -> None:
    cases = CaseService(repo.engine, GridRouter(demo_features))
    server = fixed_port_redis()
    relay = OutboxRelay(repo.engine, server.url, poll_s=0.05, retry_max_s=0.2, restart_check_s=0.2)
    sink = AlertSink(repo, server.url, tmp_path / "media", grids=None, relay=relay).start()
    handler = Recorder(then=cases.ingest_alerts)

    def consumer() -> StreamConsumer:
        # The outbox safety net waits 10 minutes here: however slow a loaded machine makes the burst, what arrives
        # must come through the stream (asserted below), not be reconciled from the table after 30 s.
        return StreamConsumer(repo.engine, server.url, handler, block_ms=100, retry_max_s=0.2,
                              reconcile_after_s=600).start()

    first = consumer()
    second: StreamConsumer | None = None
    try:
        stored: list[str] = []
        for n in range(1000):
            if n == 400:
                wait_until(lambda: len(handler.ids) > 100, what="the first alerts to flow")
                first.stop()  # a slow consumer: what is published from here on waits on the stream
            if n == 500:
                wait_until(lambda: _outbox_states(repo)["pending"] == 0, what="the relay to publish")
                server.stop()  # a Redis without persistence: the waiting entries and the group are gone
                server = fixed_port_redis()
            if n == 700:
                second = consumer()
            alert = sink.record(issue_event(n))
            assert alert is not None
            stored.append(alert.id)
        assert second is not None
        consumer_ = second
        wait_until(lambda: len(handler.ids) >= 1000 and _outbox_states(repo)["confirmed"] == 1000, timeout=240,
                   what="all 1000 alerts to be processed and confirmed")
        assert repo.count_alerts() == 1000
        assert sorted(handler.ids) == sorted(stored)  # every alert delivered, none twice
        assert _inbox_count(repo) == 1000
        assert relay.health().ok and relay.health().backlog == 0
        assert consumer_.health().ok
        assert len(handler.ids) < relay.published  # the lost entries really were sent again
        assert first.reconciled == second.reconciled == 0  # ... and came through the stream, not the safety net
        # All at one spot: one case, one sighting per alert.
        book = CaseBook(repo.engine, cases.router)
        [case] = book.queue()
        assert case.sightings == 1000
        assert sorted(s.alert_id or "" for s in book.sightings(case.id)) == sorted(stored)
    finally:
        first.stop()
        if second is not None:
            second.stop()
        sink.stop()


def test_the_same_alert_delivered_twice_is_processed_once(
    repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    alert = sink.record(issue_event(1))
    assert alert is not None
    # A relay that published, crashed before marking the row sent, and published again after its restart.
    redis_client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]
    assert redis_client.xlen(keys.ALERTS_STREAM) == 2
    handler = Recorder()
    consumer = StreamConsumer(repo.engine, redis_server.url, handler)
    assert consumer.poll_once(block_ms=10) == 2
    assert handler.ids == [alert.id]
    assert consumer.duplicates == 1
    assert consumer.poll_once(block_ms=10) == 0
    assert redis_client.xpending(keys.ALERTS_STREAM, inbox.CASES_GROUP)["pending"] == 0  # both acknowledged
    consumer.stop()
    sink.stop()


def test_entries_held_by_a_crashed_consumer_are_taken_over(
    repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    ids = [a.id for a in (sink.record(issue_event(n)) for n in range(5)) if a is not None]
    handler = Recorder()
    survivor = StreamConsumer(repo.engine, redis_server.url, handler, claim_idle_ms=50, consumer_name="survivor")
    survivor.ensure_group()
    # Another consumer of the group reads everything, then dies without acknowledging.
    redis_client.xreadgroup(inbox.CASES_GROUP, "crashed", {keys.ALERTS_STREAM: ">"}, count=10)
    assert survivor.poll_once(block_ms=10) == 0  # nothing new: the crashed one holds it all
    wait_until(lambda: survivor.reclaim() > 0, timeout=5, what="idle entries to be reclaimed")
    assert sorted(handler.ids) == sorted(ids)
    assert redis_client.xpending(keys.ALERTS_STREAM, inbox.CASES_GROUP)["pending"] == 0
    survivor.stop()
    sink.stop()


def test_a_bad_entry_goes_to_the_dead_letter_stream_and_does_not_block_the_others(
    repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    alerts = [a for a in (sink.record(issue_event(n)) for n in range(4)) if a is not None]
    redis_client.xadd(keys.ALERTS_STREAM, {"v": "1", "kind": "alert", "data": "{not json"})
    poison = alerts[2].id
    handler = Recorder(fail_for={poison})
    consumer = StreamConsumer(repo.engine, redis_server.url, handler, claim_idle_ms=1, max_deliveries=2)
    assert consumer.poll_once(block_ms=10) == 5
    assert sorted(handler.ids) == sorted(a.id for a in alerts if a.id != poison)  # the rest went through
    assert _inbox_count(repo) == 3  # the failed alert's transaction left no inbox row

    # The failing alert is retried, and after max_deliveries it is moved aside with the reason.
    wait_until(lambda: (consumer.reclaim(), redis_client.xlen(consumer.dead_letter_stream))[1] == 2,
               timeout=30, what="the failing alert to be dead-lettered")
    entries: list[Any] = redis_client.xrange(consumer.dead_letter_stream)  # type: ignore[assignment]
    dead = {json.loads(f[b"data"])["id"] if f[b"data"].startswith(b"{\"") else "unreadable": f[b"dead_reason"].decode()
            for _, f in entries}
    assert dead["unreadable"].startswith("unreadable entry")
    assert dead[poison].startswith("handling failed")
    assert redis_client.xpending(keys.ALERTS_STREAM, inbox.CASES_GROUP)["pending"] == 0
    assert _outbox_states(repo)["confirmed"] == 4  # the dead-lettered one too: the outbox safety net leaves it
    assert consumer.reconcile(min_age_s=0) == 0
    consumer.stop()
    sink.stop()


def test_after_a_redis_restart_the_relay_sends_again_what_was_lost_unprocessed(
    repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    sink = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    handler = Recorder()
    consumer = StreamConsumer(repo.engine, redis_server.url, handler)
    first = [a.id for a in (sink.record(issue_event(n)) for n in range(3)) if a is not None]
    consumer.poll_once(block_ms=10)  # processed, and confirmed in the same transaction
    later = [a.id for a in (sink.record(issue_event(n)) for n in range(3, 6)) if a is not None]
    redis_client.delete(keys.ALERTS_STREAM)  # what a restart without persistence does to the stream
    assert _outbox_states(repo) == {"pending": 0, "sent": 3, "confirmed": 3}

    assert sink.relay.recheck() == (0, 3)  # 3 lost unprocessed: queued again
    assert _outbox_states(repo) == {"pending": 3, "sent": 0, "confirmed": 3}
    assert sink.relay.flush() == 3
    consumer.poll_once(block_ms=10)
    assert handler.ids == first + later
    assert _outbox_states(repo)["confirmed"] == 6
    assert sink.relay.recheck() == (0, 0)
    consumer.stop()
    sink.stop()


def test_the_consumer_takes_from_the_outbox_what_the_stream_never_brought(
    repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    # Redis unreachable for the worker: the alerts are stored, never published.
    dead = f"redis://127.0.0.1:{free_port()}/0"
    sink = AlertSink(repo, dead, tmp_path / "media", grids=None)
    stored = [a.id for a in (sink.record(issue_event(n)) for n in range(4)) if a is not None]
    assert _outbox_states(repo) == {"pending": 4, "sent": 0, "confirmed": 0}
    handler = Recorder()
    # The consumer cannot reach Redis either; the database alone is enough.
    consumer = StreamConsumer(repo.engine, dead, handler, reconcile_after_s=60)
    assert consumer.reconcile() == 0  # younger than a minute: the stream may still bring them
    assert consumer.reconcile(min_age_s=0) == 4
    assert handler.ids == stored and _outbox_states(repo)["confirmed"] == 4
    assert consumer.reconcile(min_age_s=0) == 0

    # When Redis comes back and the relay sends them after all, they are recognised and skipped.
    live = AlertSink(repo, redis_server.url, tmp_path / "media", grids=None)
    assert live.relay.flush() == 4
    assert _outbox_states(repo) == {"pending": 0, "sent": 0, "confirmed": 4}  # sending keeps the confirmation
    on_stream = StreamConsumer(repo.engine, redis_server.url, handler)
    assert on_stream.poll_once(block_ms=10) == 4 and on_stream.duplicates == 4
    assert handler.ids == stored
    for part in (consumer, on_stream, sink, live):
        part.stop()
