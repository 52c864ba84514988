"""Reads alerts from the Redis Stream through a consumer group and hands them to a handler, exactly once in effect.

Delivery is at least once: an entry is acknowledged (XACK) only after the handler's transaction committed, and
entries a crashed consumer held are taken over after they have been idle for a while (XAUTOCLAIM). The handler
runs inside a database transaction together with the inbox row of each alert (alerts.inbox), so an alert
delivered twice, by a re-delivery or by the relay sending it again, is processed once.

An entry that cannot be read, or whose handling failed ``max_deliveries`` times, is moved to a dead-letter
stream (``<stream>:dead``) with the reason, and acknowledged, so it cannot block the group.

The stream is the fast path; the outbox table is the record. The consuming group confirms each alert's outbox
row in the transaction that processes it, and ``reconcile()`` (every few seconds, database only) processes
rows still unconfirmed after ``reconcile_after_s``: alerts Redis lost, trimmed unread, or never received
because it was down. So cases keep coming while Redis is away.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts import inbox, outbox
from alerts.db import write_transaction
from alerts.health import PartHealth
from alerts.models import utc_now
from alerts.redis_clients import fail_fast_client
from gridwatch import keys
from gridwatch.events import alert_from_stream
from gridwatch.loop import ThreadPart
from gridwatch.types import Alert

log = logging.getLogger(__name__)

BatchHandler = Callable[[Connection, Sequence[Alert]], object]
"""Does the work for alerts not processed before, inside the given transaction (e.g. CaseService.ingest_alerts)."""

STALE_CONSUMER_MS = 3_600_000  # a consumer silent this long with nothing pending is removed from the group
_MAX_CLAIM_ROUNDS = 10

Entry = tuple[str, dict[bytes, bytes] | None]


def default_consumer_name() -> str:
    # Unique per process: a restarted process is a new consumer and its predecessor's entries are reclaimed.
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _is_connection_level(exc: BaseException) -> bool:
    """A failure of the database itself (down, restarting), as opposed to one alert the handler cannot take."""
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    )


class StreamConsumer(ThreadPart):
    """One consumer of a group; ``start()`` runs it in a thread, ``poll_once()``/``reclaim()`` step it by hand."""

    def __init__(
        self,
        engine: Engine,
        redis_source: redis.Redis | str,
        handler: BatchHandler,
        *,
        group: str = inbox.CASES_GROUP,
        stream: str = keys.ALERTS_STREAM,
        consumer_name: str | None = None,
        batch: int = 100,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 5.0,
        max_deliveries: int = 5,
        dead_letter_stream: str | None = None,
        retry_max_s: float = 5.0,
        confirm_outbox: bool = True,
        reconcile_after_s: float = 30.0,
        reconcile_every_s: float = 10.0,
    ) -> None:
        super().__init__(f"consumer-{group}")
        self._engine = engine
        self._client = fail_fast_client(redis_source, command_timeout_s=block_ms / 1000 + 1.0)
        self._handler = handler
        self.group = group
        self.stream = stream
        self.name = consumer_name or default_consumer_name()
        self._batch = batch
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._claim_every_s = claim_every_s
        self._max_deliveries = max_deliveries
        self.dead_letter_stream = dead_letter_stream or f"{stream}:dead"
        self._retry_max_s = retry_max_s
        # Only the group that owns the outbox's confirmations reconciles from it (one group: cases).
        self._confirm_outbox = confirm_outbox
        self._reconcile_after_s = reconcile_after_s
        self._reconcile_every_s = reconcile_every_s
        self._next_reconcile = 0.0
        self._group_ready = False
        self._retry_own_pending = False
        self._next_claim = 0.0
        self._backoff_s = 0.0
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._last_success: datetime | None = None
        self._errors = 0
        self.processed = 0  # alerts handed to the handler
        self.duplicates = 0  # deliveries skipped because the inbox had them
        self.dead_lettered = 0
        self.reconciled = 0  # alerts processed from the outbox table rather than the stream

    # --- lifecycle --------------------------------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> bool:
        ended = super().stop(timeout)
        self._client.close()
        return ended

    def health(self) -> PartHealth:
        backlog: int | None = None
        try:
            for info in self._client.xinfo_groups(self.stream):
                if _text(info["name"]) == self.group:
                    lag = info.get("lag")
                    backlog = int(info.get("pending", 0)) + (int(lag) if lag is not None else 0)
        except redis.RedisError:
            backlog = None
        down = self._down_since is not None
        detail = f"cannot consume: {self._last_error}" if down else (
            f"consumer {self.name} of group {self.group} on {self.stream}" if self.running else "not running"
        )
        return PartHealth(
            name=f"consumer {self.group}", running=self.running, ok=self.running and not down, detail=detail,
            last_success_at=self._last_success, backlog=backlog, errors=self._errors,
        )

    # --- one step -------------------------------------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the group reading the stream from its start (after a Redis restart it starts again)."""
        try:
            self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            log.info("created consumer group %s on stream %s", self.group, self.stream)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run a group command; a Redis that lost the group (restarted empty) gets it created again."""
        if not self._group_ready:
            self.ensure_group()
        try:
            return fn()
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("group %s on stream %s is gone (Redis restarted?); creating it again", self.group, self.stream)
            self.ensure_group()
            return fn()

    def poll_once(self, block_ms: int | None = None) -> int:
        """Read new entries (waiting up to ``block_ms``) and process them; returns how many were read."""
        if self._retry_own_pending:
            self._retry_own_pending = False
            self._read_and_process("0", 0)  # what this consumer failed on before
        return self._read_and_process(">", self._block_ms if block_ms is None else block_ms)

    def _read_and_process(self, start: str, block_ms: int) -> int:
        reply = self._call(
            lambda: self._client.xreadgroup(
                self.group, self.name, {self.stream: start}, count=self._batch, block=block_ms or None
            )
        )
        entries: list[Entry] = []
        for _stream, items in reply or []:
            entries.extend((_text(eid), fields or None) for eid, fields in items)
        if entries:
            self._process(entries)
        return len(entries)

    def reclaim(self) -> int:
        """Take over entries idle longer than ``claim_idle_ms`` in any consumer (a crashed one) and process them."""
        total = 0
        cursor = "0-0"
        for _ in range(_MAX_CLAIM_ROUNDS):
            c = cursor
            reply = self._call(
                lambda c=c: self._client.xautoclaim(  # type: ignore[misc]
                    self.stream, self.group, self.name, self._claim_idle_ms, start_id=c, count=self._batch
                )
            )
            cursor = _text(reply[0])
            entries: list[Entry] = [(_text(eid), fields or None) for eid, fields in reply[1]]
            if entries:
                log.info("consumer %s reclaimed %d idle entries of group %s", self.name, len(entries), self.group)
                self._process(self._drop_exhausted(entries))
                total += len(entries)
            if cursor == "0-0":
                break
        self._forget_stale_consumers()
        return total

    def _drop_exhausted(self, entries: list[Entry]) -> list[Entry]:
        """Dead-letter entries that were delivered too often; the rest are returned to be processed."""
        ids = [e[0] for e in entries]
        pending = self._client.xpending_range(
            self.stream, self.group, min=ids[0], max=ids[-1], count=len(ids) * 4, consumername=self.name
        )
        times = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        keep: list[Entry] = []
        for eid, fields in entries:
            if times.get(eid, 0) > self._max_deliveries:
                self._dead_letter(eid, fields, f"handling failed {times[eid] - 1} times")
            else:
                keep.append((eid, fields))
        return keep

    def _forget_stale_consumers(self) -> None:
        try:
            for info in self._client.xinfo_consumers(self.stream, self.group):
                name = _text(info["name"])
                if name != self.name and int(info["pending"]) == 0 and int(info["idle"]) > STALE_CONSUMER_MS:
                    self._client.xgroup_delconsumer(self.stream, self.group, name)
        except redis.ResponseError:
            pass  # the group vanished meanwhile; the next call creates it again

    # --- processing -----------------------------------------------------------------------------------------------

    def _process(self, entries: Sequence[Entry]) -> None:
        acks: list[str] = []
        parsed: list[tuple[str, Alert]] = []
        for eid, fields in entries:
            if fields is None:  # trimmed from the stream while pending: nothing left to process
                acks.append(eid)
                continue
            try:
                parsed.append((eid, alert_from_stream(fields)))  # type: ignore[arg-type]
            except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                self._dead_letter(eid, fields, f"unreadable entry: {exc}")
        if parsed:
            try:
                self._handle([a for _, a in parsed])
                acks.extend(eid for eid, _ in parsed)
            except Exception as exc:
                if _is_connection_level(exc):
                    self._retry_own_pending = True
                    raise  # the database is down: back off; the entries stay pending
                acks.extend(self._one_by_one(parsed))
        if acks:
            self._client.xack(self.stream, self.group, *acks)

    def _one_by_one(self, parsed: Sequence[tuple[str, Alert]]) -> list[str]:
        """Isolate the alert(s) that made a batch fail; the others are processed and acknowledged."""
        done: list[str] = []
        for eid, alert in parsed:
            try:
                self._handle([alert])
                done.append(eid)
            except Exception as exc:
                if _is_connection_level(exc):
                    self._retry_own_pending = True
                    raise
                # Left pending: reclaimed after claim_idle_ms, dead-lettered after max_deliveries attempts.
                log.exception("handling alert %s (entry %s) for group %s failed", alert.id, eid, self.group)
        return done

    def _handle(self, alerts: Sequence[Alert]) -> None:
        unique = list({a.id: a for a in alerts}.values())
        with write_transaction(self._engine) as conn:
            fresh = inbox.claim(conn, self.group, [a.id for a in unique])
            todo = [a for a in unique if a.id in fresh]
            if todo:
                self._handler(conn, todo)
            if self._confirm_outbox:
                outbox.confirm(conn, [a.id for a in unique])
        self.processed += len(todo)
        self.duplicates += len(alerts) - len(todo)
        if len(todo) < len(alerts):
            log.debug("group %s skipped %d already processed alerts", self.group, len(alerts) - len(todo))

    def _dead_letter(self, eid: str, fields: dict[bytes, bytes] | None, reason: str) -> None:
        body: dict[str | bytes, str | bytes] = {k: v for k, v in (fields or {}).items()}
        body.update({"dead_reason": reason, "dead_entry": eid, "dead_group": self.group})
        self._client.xadd(self.dead_letter_stream, body, maxlen=10_000, approximate=True)  # type: ignore[arg-type]
        self._client.xack(self.stream, self.group, eid)
        alert_id = self._alert_id(fields)
        if self._confirm_outbox and alert_id is not None:
            with write_transaction(self._engine) as conn:  # so reconcile() does not try it again forever
                outbox.confirm(conn, [alert_id], note=f"dead-lettered to {self.dead_letter_stream}: {reason}")
        self.dead_lettered += 1
        log.error("entry %s of %s moved to %s: %s", eid, self.stream, self.dead_letter_stream, reason)

    @staticmethod
    def _alert_id(fields: dict[bytes, bytes] | None) -> str | None:
        try:
            return alert_from_stream(fields or {}).id  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return None

    def reconcile(self, min_age_s: float | None = None, max_rows: int = 10_000) -> int:
        """Process outbox rows still unconfirmed ``min_age_s`` (default ``reconcile_after_s``) after they were
        written, straight from the database; returns how many alerts were new to the group. Needs no Redis."""
        if not self._confirm_outbox:
            return 0
        age = self._reconcile_after_s if min_age_s is None else min_age_s
        cutoff = utc_now() - timedelta(seconds=age)
        processed_before = self.processed
        done = 0
        after = 0
        while done < max_rows:
            with self._engine.connect() as conn:
                rows = outbox.unconfirmed(conn, self.stream, cutoff, after, self._batch)
            if not rows:
                break
            after = rows[-1].id
            alerts: list[tuple[str, Alert]] = []
            for r in rows:
                try:
                    alerts.append((r.alert_id, alert_from_stream(json.loads(r.payload))))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("outbox row %s of alert %s is unreadable: %s", r.id, r.alert_id, exc)
            try:
                self._handle([a for _, a in alerts])
            except Exception as exc:
                if _is_connection_level(exc):
                    raise
                self._one_by_one(alerts)  # the failing ones stay unconfirmed and are tried again next time
            done += len(rows)
        got = self.processed - processed_before
        self.reconciled += got
        if got:
            log.info("group %s processed %d alerts from the outbox that the stream had not delivered in time",
                     self.group, got)
        return got

    # --- the thread --------------------------------------------------------------------------------------------------

    def _succeeded(self) -> None:
        if self._down_since is not None:
            log.info("consumer %s working again after %.1f s", self.name, time.monotonic() - self._down_since)
        self._down_since = None
        self._backoff_s = 0.0
        self._last_error = None
        self._last_success = utc_now()

    def _failed(self, exc: BaseException) -> None:
        self._errors += 1
        self._group_ready = False
        self._retry_own_pending = True
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._backoff_s = min(self._retry_max_s, max(0.1, self._backoff_s * 2))
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("consumer %s of group %s cannot work: %s; retrying", self.name, self.group, self._last_error)

    def _run(self) -> None:
        log.info("consumer %s of group %s on %s started", self.name, self.group, self.stream)
        while not self._stop.is_set():
            if self._confirm_outbox and time.monotonic() >= self._next_reconcile:
                self._next_reconcile = time.monotonic() + self._reconcile_every_s
                try:
                    self.reconcile()  # the database alone: runs while Redis is down too
                except sa.exc.SQLAlchemyError as exc:
                    self._failed(exc)
            try:
                if time.monotonic() >= self._next_claim:
                    self.reclaim()
                    self._next_claim = time.monotonic() + self._claim_every_s
                self.poll_once()
                self._succeeded()
            except (redis.RedisError, sa.exc.SQLAlchemyError) as exc:
                self._failed(exc)
                self._stop.wait(self._backoff_s)
            except Exception:  # a bug must not silently end consuming; the traceback says where
                log.exception("consumer %s cycle failed", self.name)
                self._errors += 1
                self._stop.wait(self._retry_max_s)
        log.info("consumer %s of group %s stopped", self.name, self.group)
