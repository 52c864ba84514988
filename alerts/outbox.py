"""The outbox relay: publishes alerts that were stored with an outbox row onto their Redis Stream.

An alert and its outbox row are written in one transaction (Repository.add_alert with ``outbox_stream``), so
nothing stored is ever left unpublished: while Redis is down the rows wait, and the relay sends them, in order,
when it returns. Delivery is at least once; consumers are idempotent (alerts.inbox).

When Redis restarts (its run_id changes), the relay sends again every sent row that the consuming group has
not confirmed and whose entry the restart lost, so the stream (and the wall that tails it) is complete again.
It does this only on a restart, never because a stream was trimmed: re-sending trimmed entries while the
consumer is away would only trim others. The consumer does not depend on it: it reconciles from the outbox
table itself (alerts.consumer.StreamConsumer.reconcile).

Several relays (one per worker process) may share one database: each claims a batch of rows for a short
lease before publishing, so two relays do not normally send the same row.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts import inbox
from alerts.db import write_transaction
from alerts.health import PartHealth
from alerts.models import OutboxRow, utc_now
from alerts.redis_clients import fail_fast_client
from gridwatch.loop import ThreadPart

log = logging.getLogger(__name__)

_OUTBOX = cast(sa.Table, OutboxRow.__table__)
_MAX_ERROR = 500
_RECHECK_PAGE = 500


def confirm(conn: Connection, alert_ids: Sequence[str], note: str | None = None) -> None:
    """Mark outbox rows as processed by the consuming group (in the transaction that processed them)."""
    if not alert_ids:
        return
    values: dict[str, Any] = {"confirmed_at": utc_now()}
    if note is not None:
        values["last_error"] = note[:_MAX_ERROR]
    conn.execute(
        sa.update(_OUTBOX).where(_OUTBOX.c.alert_id.in_(list(alert_ids)), _OUTBOX.c.confirmed_at.is_(None))
        .values(**values)
    )


def unconfirmed(conn: Connection, stream: str, older_than: datetime, after_id: int, limit: int) -> list[Any]:
    """Outbox rows of ``stream`` created before ``older_than`` that no consumer has confirmed, oldest first."""
    query = (
        sa.select(_OUTBOX.c.id, _OUTBOX.c.alert_id, _OUTBOX.c.payload)
        .where(_OUTBOX.c.confirmed_at.is_(None), _OUTBOX.c.stream == stream, _OUTBOX.c.created_at <= older_than,
               _OUTBOX.c.id > after_id)
        .order_by(_OUTBOX.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def _describe_server(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    return str(kw.get("path") or f"{kw.get('host', '?')}:{kw.get('port', '?')}")  # never the password


class OutboxRelay(ThreadPart):
    """Publishes pending outbox rows; ``start()`` runs it in a thread, ``flush()`` does it once, synchronously.

    ``confirm_group`` is the consumer group that confirms rows (its consumer sets ``confirmed_at``); None when no
    group consumes the stream (then a row is done once sent). ``restart_check_s``: how often the relay asks Redis
    for its run_id.
    """

    def __init__(
        self,
        engine: Engine,
        redis_source: redis.Redis | str,
        *,
        maxlen: int = 10_000,
        batch: int = 200,
        poll_s: float = 0.5,
        retry_max_s: float = 5.0,
        confirm_group: str | None = inbox.CASES_GROUP,
        restart_check_s: float = 5.0,
        lease_s: float = 30.0,
        linger_s: float = 0.01,
    ) -> None:
        super().__init__("outbox-relay")
        self._engine = engine
        self._client = fail_fast_client(redis_source)
        self._server = _describe_server(self._client)
        self._maxlen = maxlen
        self._batch = batch
        self._poll_s = poll_s
        self._retry_max_s = retry_max_s
        self._confirm_group = confirm_group
        self._restart_check_s = restart_check_s
        self._lease = timedelta(seconds=lease_s)
        self._linger_s = linger_s
        self._lock = threading.Lock()  # one flush at a time in this process
        self._wake = threading.Event()
        self._backoff_s = 0.0
        self._retry_at = 0.0  # monotonic time before which an inline publish is not tried
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._errors = 0
        self._last_success: datetime | None = None
        self._run_id: str | None = None
        self._check_run_id = True
        self._next_recheck = 0.0
        self.published = 0  # entries sent since start (a row sent again after a loss counts twice)

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> OutboxRelay:
        if self.running:
            return self  # starting a running relay again is harmless, not a mistake
        return super().start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stop.set()  # before the wake-up: the woken loop must see it, or it waits a whole poll again
        self._wake.set()
        ended = super().stop(timeout)
        self._client.close()
        return ended

    def _left_busy(self, timeout: float) -> None:
        log.warning("outbox relay did not stop within %.1f s", timeout)

    def health(self) -> PartHealth:
        try:
            backlog: int | None = self.pending_count()
        except sa.exc.SQLAlchemyError:
            backlog = None
        down = self._down_since is not None
        if down:
            detail = f"cannot publish: {self._last_error}"
        elif not self.running:
            detail = "not running (alerts are published inline when stored)"
        else:
            detail = f"publishing to Redis at {self._server}"
        return PartHealth(
            name="outbox relay", running=self.running, ok=not down and backlog is not None, detail=detail,
            last_success_at=self._last_success, backlog=backlog, errors=self._errors,
        )

    # --- publishing ------------------------------------------------------------------------------------------

    def kick(self) -> None:
        """A new row is waiting: wake the relay thread, or publish inline when no thread runs.

        Never waits for Redis longer than one fail-fast attempt, and not at all while Redis is known to be down.
        """
        if self.running:
            self._wake.set()
            return
        if time.monotonic() < self._retry_at or not self._lock.acquire(blocking=False):
            return
        try:
            self._flush_locked(max_batches=1)  # a backlog is the thread's job, not the caller's
        except (redis.RedisError, sa.exc.SQLAlchemyError) as exc:
            self._failed(exc)
        finally:
            self._lock.release()

    def flush(self) -> int:
        """Publish every pending row now; returns how many. Raises redis.RedisError when Redis is unreachable."""
        with self._lock:
            try:
                return self._flush_locked()
            except (redis.RedisError, sa.exc.SQLAlchemyError) as exc:
                self._failed(exc)
                raise

    def pending_count(self) -> int:
        query = sa.select(sa.func.count()).select_from(_OUTBOX).where(_OUTBOX.c.sent_at.is_(None))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _flush_locked(self, max_batches: int | None = None) -> int:
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            sent = self._publish_batch()
            total += sent
            batches += 1
            if sent < self._batch:
                break
        self._succeeded()
        return total

    def _claim(self) -> tuple[str, list[Any]]:
        """Lease the oldest pending rows to this relay: one UPDATE ... RETURNING."""
        now = utc_now()
        token = uuid.uuid4().hex
        oldest = (
            sa.select(_OUTBOX.c.id)
            .where(
                _OUTBOX.c.sent_at.is_(None),
                sa.or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < now),
            )
            .order_by(_OUTBOX.c.id)
            .limit(self._batch)
        )
        with write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                oldest = oldest.with_for_update(skip_locked=True)  # another relay's batch is simply passed over
            rows = list(
                conn.execute(
                    sa.update(_OUTBOX)
                    .where(_OUTBOX.c.id.in_(oldest.scalar_subquery()))
                    .values(claim_token=token, claimed_until=now + self._lease)
                    .returning(_OUTBOX.c.id, _OUTBOX.c.alert_id, _OUTBOX.c.stream, _OUTBOX.c.payload)
                )
            )
        return token, sorted(rows, key=lambda r: r.id)

    def _publish_batch(self) -> int:
        token, rows = self._claim()
        if not rows:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(row.stream, json.loads(row.payload), maxlen=self._maxlen, approximate=True)
        try:
            stream_ids = pipe.execute()
        except redis.RedisError as exc:
            self._release(token, exc)
            raise
        now = utc_now()
        values: dict[str, Any] = {
            "sent_at": now, "stream_id": sa.bindparam("b_sid"), "attempts": _OUTBOX.c.attempts + 1,
            "claim_token": None, "claimed_until": None, "last_error": None,
        }
        if self._confirm_group is None:
            values["confirmed_at"] = now  # nobody consumes: sent is done
        # Never write confirmed_at otherwise: the consumer may already have processed the entry and confirmed it.
        stmt = sa.update(_OUTBOX).where(_OUTBOX.c.id == sa.bindparam("b_id")).values(**values)
        params = [
            {"b_id": row.id, "b_sid": sid.decode() if isinstance(sid, bytes) else str(sid)}
            for row, sid in zip(rows, stream_ids, strict=True)
        ]
        with write_transaction(self._engine) as conn:
            conn.execute(stmt, params)
        self.published += len(rows)
        log.debug("published %d outbox rows (first alert %s)", len(rows), rows[0].alert_id)
        return len(rows)

    def _release(self, token: str, exc: BaseException) -> None:
        """Give a claimed batch back at once, so the next attempt (here or in another relay) need not wait."""
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(
                    sa.update(_OUTBOX)
                    .where(_OUTBOX.c.claim_token == token)
                    .values(
                        claim_token=None, claimed_until=None, attempts=_OUTBOX.c.attempts + 1,
                        last_error=f"{type(exc).__name__}: {exc}"[:_MAX_ERROR],
                    )
                )
        except sa.exc.SQLAlchemyError:
            log.exception("could not release outbox claim %s; its rows wait for the lease to end", token)

    # --- lost entries ------------------------------------------------------------------------------------------

    def recheck(self, min_age_s: float = 0.0) -> tuple[int, int]:
        """Confirm sent rows the group has processed; queue again those whose stream entry is gone.

        Looks at unconfirmed rows sent at least ``min_age_s`` ago. Returns (confirmed, requeued). Runs by itself
        after a Redis restart; raises redis.RedisError when Redis is unreachable.
        """
        if self._confirm_group is None:
            return 0, 0
        cutoff = utc_now() - timedelta(seconds=min_age_s)
        confirmed = requeued = 0
        after = 0
        while True:
            with self._engine.connect() as conn:
                rows = list(
                    conn.execute(
                        sa.select(_OUTBOX.c.id, _OUTBOX.c.alert_id, _OUTBOX.c.stream, _OUTBOX.c.stream_id)
                        .where(
                            _OUTBOX.c.sent_at.is_not(None),
                            _OUTBOX.c.confirmed_at.is_(None),
                            _OUTBOX.c.sent_at <= cutoff,
                            _OUTBOX.c.id > after,
                        )
                        .order_by(_OUTBOX.c.id)
                        .limit(_RECHECK_PAGE)
                    )
                )
                if not rows:
                    break
                done = inbox.processed(conn, self._confirm_group, [r.alert_id for r in rows])
            unsure = [r for r in rows if r.alert_id not in done]
            lost = self._missing_from_stream(unsure)
            self._settle([r.id for r in rows if r.alert_id in done], [r.id for r in lost])
            confirmed += len(rows) - len(unsure)
            requeued += len(lost)
            after = rows[-1].id
            if len(rows) < _RECHECK_PAGE:
                break
        if requeued:
            log.warning(
                "%d sent alerts were lost from Redis at %s before group %r processed them (Redis restarted or "
                "the stream was trimmed); they are queued to be sent again", requeued, self._server,
                self._confirm_group,
            )
        return confirmed, requeued

    def _missing_from_stream(self, rows: Sequence[Any]) -> list[Any]:
        if not rows:
            return []
        pipe = self._client.pipeline(transaction=False)
        for r in rows:
            pipe.xrange(r.stream, min=r.stream_id, max=r.stream_id, count=1)
        found = pipe.execute()
        return [r for r, entries in zip(rows, found, strict=True) if not entries]

    def _settle(self, confirmed_ids: Sequence[int], lost_ids: Sequence[int]) -> None:
        if not confirmed_ids and not lost_ids:
            return
        now = utc_now()
        with write_transaction(self._engine) as conn:
            if confirmed_ids:
                conn.execute(sa.update(_OUTBOX).where(_OUTBOX.c.id.in_(confirmed_ids)).values(confirmed_at=now))
            if lost_ids:
                conn.execute(
                    sa.update(_OUTBOX)
                    .where(_OUTBOX.c.id.in_(lost_ids), _OUTBOX.c.confirmed_at.is_(None))
                    .values(sent_at=None, stream_id=None, last_error="stream entry lost before it was processed")
                )

    def _redis_restarted(self) -> bool:
        """True once per change of the server's run_id: a restarted Redis may have lost every entry."""
        run_id = str(self._client.info("server").get("run_id", ""))
        previous, self._run_id = self._run_id, run_id
        return previous is not None and previous != run_id

    # --- the thread ----------------------------------------------------------------------------------------------

    def _succeeded(self) -> None:
        if self._down_since is not None:
            log.info(
                "Redis at %s reachable again after %.1f s; the outbox is being published",
                self._server, time.monotonic() - self._down_since,
            )
        self._down_since = None
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._last_error = None
        self._last_success = utc_now()

    def _failed(self, exc: BaseException) -> None:
        self._errors += 1
        self._check_run_id = True
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._backoff_s = min(self._retry_max_s, max(0.1, self._backoff_s * 2))
        self._retry_at = time.monotonic() + self._backoff_s
        if self._down_since is None:
            self._down_since = time.monotonic()
            try:
                waiting: int | str = self.pending_count()
            except sa.exc.SQLAlchemyError:
                waiting = "unknown"
            log.warning(
                "cannot publish alerts to Redis at %s (%s); %s alerts wait in the outbox, retrying",
                self._server, self._last_error, waiting,
            )

    def _cycle(self) -> int:
        with self._lock:
            sent = self._flush_locked(max_batches=10)  # then look at stop() again
            # redis-py reconnects a pooled connection silently, so a restart is noticed by the server's run_id.
            if self._check_run_id or time.monotonic() >= self._next_recheck:
                self._check_run_id = False
                if self._redis_restarted():
                    log.warning("Redis at %s restarted; checking which sent alerts it lost", self._server)
                    self.recheck()
                self._next_recheck = time.monotonic() + self._restart_check_s
            return sent

    def _run(self) -> None:
        log.info("outbox relay started, publishing to Redis at %s", self._server)
        while not self._stop.is_set():
            try:
                sent = self._cycle()
            except (redis.RedisError, sa.exc.SQLAlchemyError) as exc:
                self._failed(exc)
                # While down, new alerts do not wake the relay: it retries on its own schedule.
                self._stop.wait(self._backoff_s)
                continue
            except Exception:  # a bug must not silently end publishing; the traceback says where
                log.exception("outbox relay cycle failed")
                self._errors += 1
                self._stop.wait(self._retry_max_s)
                continue
            if sent >= self._batch * 10:
                continue  # more is waiting
            if self._wake.wait(self._poll_s):
                # Alerts come in bursts: a moment's wait sends the burst in one batch, not one by one.
                self._stop.wait(self._linger_s)
            self._wake.clear()
        log.info("outbox relay stopped")
