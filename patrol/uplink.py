"""Sending the car's queue to the command centre over HTTP: oldest first, in batches, retried until it gets through.

An ``OutboxSender`` thread drains one kind of item of the ``CarStore``. While the command centre cannot be
reached (no link, 5xx, timeout) nothing is lost: items stay queued and the sender tries again every
``retry_seconds``; once the link is back it sends the backlog without waiting between batches. An item the
command centre refuses for good (HTTP 400/404/422 ...) is marked refused with the reason and skipped; a
refused token (401/403) is a settings problem, not the items': they stay queued like on a dead link.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gridwatch.loop import ThreadPart
from gridwatch.protocol import parse_telemetry_answer
from gridwatch.secrets import mask_url
from patrol.store import CarStore, Item, StoreError

log = logging.getLogger(__name__)

# Answers that mean "try again later": the request never reached a working receiver.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
# The centre does not take this car's token: a settings problem, not the items'; they wait for the fix.
NOT_AUTHORISED = frozenset({401, 403})


class LinkDown(RuntimeError):
    """The command centre could not be reached or asked to retry; the items stay queued."""


class Refused(RuntimeError):
    """The command centre answered that these items will never be accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


def post_json(url: str, payload: object, timeout: float, token: str | None = None) -> Answer:
    """POST ``payload`` as JSON (with ``Authorization: Bearer <token>`` when given); LinkDown for no answer, a
    retryable status or a refused token, Refused for another 4xx."""
    data = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method="POST", headers=headers)
    shown = mask_url(url)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(resp.status, _json(resp.read()))
    except urllib.error.HTTPError as exc:
        body = _json(exc.read())
        reason = str(body.get("error") or exc.reason)
        if exc.code in RETRYABLE or exc.code >= 500:
            raise LinkDown(f"POST {shown}: HTTP {exc.code}: {reason}") from None
        if exc.code in NOT_AUTHORISED:
            raise LinkDown(f"POST {shown}: HTTP {exc.code}: {reason} (check centre_token)") from None
        if exc.code == 413:
            raise Refused(f"POST {shown}: HTTP 413 body too large ({len(data)} bytes)") from None
        raise Refused(f"POST {shown}: HTTP {exc.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        why: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise LinkDown(f"POST {shown}: {why}") from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}


# Sends a batch of items; returns the ids accepted and (id, reason) of those refused for good.
SendBatch = Callable[[list[Item]], tuple[list[int], list[tuple[int, str]]]]


class OutboxSender(ThreadPart):
    """A thread sending the ``kind`` items of ``store`` with ``send`` until ``stop()``."""

    def __init__(self, store: CarStore, kind: str, send: SendBatch, batch_max: int, interval_seconds: float,
                 retry_seconds: float, keep_refused: bool = True) -> None:
        super().__init__(f"patrol-send-{kind}")
        self.store = store
        self.keep_refused = keep_refused
        self.kind = kind
        self._send = send
        self.batch_max = batch_max
        self.interval = interval_seconds
        self.retry = retry_seconds
        self.sent = 0
        self.refused = 0
        self.failures = 0
        self.link_up: bool | None = None  # None until the first attempt
        self.last_error: str | None = None
        self.last_sent_at: float | None = None
        self._wake = threading.Event()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop.set()  # before the wake-up: the woken loop must see it, or it sleeps a whole interval again
        self._wake.set()
        return super().stop(timeout)

    def _left_busy(self, timeout: float) -> None:
        log.warning("%s sender did not stop within %.0f s", self.kind, timeout)

    def wake(self) -> None:
        """Send now instead of at the next interval (a crew report should not wait)."""
        self._wake.set()

    def pending(self) -> int:
        return self.store.pending(self.kind)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.step()
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def step(self) -> float:
        """Send one batch; return how long to wait before the next (0: more backlog to send now)."""
        try:
            items = self.store.take(self.kind, self.batch_max)
        except StoreError as exc:
            log.error("%s: %s", self.kind, exc)
            return self.retry
        if not items:
            return self.interval
        try:
            accepted, refused = self._send(items)
        except LinkDown as exc:
            self._down(str(exc), items)
            return self.retry
        except Refused as exc:
            if len(items) > 1 and "413" in str(exc):
                self.batch_max = max(1, len(items) // 2)  # the receiver's limit is lower than ours
                log.warning("%s: batch of %d too large, sending %d at a time", self.kind, len(items), self.batch_max)
                return 0.0
            refused = [(i.id, str(exc)) for i in items]
            accepted = []
        self._up()
        self.store.ack(accepted)
        self.sent += len(accepted)
        self.last_sent_at = time.time()
        if refused:
            self.refused += len(refused)
            if self.keep_refused:
                for item_id, reason in refused:
                    self.store.refuse([item_id], reason)
            else:  # e.g. GPS fixes older than the centre keeps: worthless, and a long drive must not fill the disk
                self.store.ack(item_id for item_id, _ in refused)
            log.warning("%s: command centre refused %d of %d items (first: %s)%s", self.kind, len(refused),
                        len(items), refused[0][1], "; kept in the local queue marked refused" if self.keep_refused
                        else "; dropped")
        return 0.0 if len(items) >= self.batch_max else self.interval

    def _down(self, reason: str, items: list[Item]) -> None:
        self.failures += 1
        self.last_error = reason
        self.store.attempted([i.id for i in items], reason)
        if self.link_up is not False:
            log.warning("%s: command centre unreachable (%s); %d queued, retrying every %.0f s",
                        self.kind, reason, self.store.pending(self.kind), self.retry)
        self.link_up = False

    def _up(self) -> None:
        if self.link_up is False:
            log.info("%s: command centre reachable again; sending %d queued", self.kind, self.store.pending(self.kind))
        self.link_up = True
        self.last_error = None


def telemetry_send(url: str, timeout: float, token: str | None = None) -> SendBatch:
    """Batches of queued fixes to ``POST /api/telemetry/<vehicle_id>`` (a JSON list; per-fix refusals)."""

    def send(items: list[Item]) -> tuple[list[int], list[tuple[int, str]]]:
        answer = post_json(url, [i.payload for i in items], timeout, token)
        rejected = {r.index: r.error for r in parse_telemetry_answer(answer.body)}
        refused = [(items[i].id, why) for i, why in rejected.items() if 0 <= i < len(items)]
        refused_ids = {i for i, _ in refused}
        return [i.id for i in items if i.id not in refused_ids], refused

    return send


def one_by_one(url_for: Callable[[Item], str], body_for: Callable[[Item], object], timeout: float,
               token: str | None = None) -> SendBatch:
    """Items sent one POST each (reports, status changes): one refused item never holds up the next."""

    def send(items: list[Item]) -> tuple[list[int], list[tuple[int, str]]]:
        accepted: list[int] = []
        refused: list[tuple[int, str]] = []
        for item in items:
            try:
                post_json(url_for(item), body_for(item), timeout, token)
            except Refused as exc:
                refused.append((item.id, str(exc)))
                continue
            except LinkDown:
                if accepted or refused:
                    return accepted, refused  # the rest stay queued for the next try
                raise
            accepted.append(item.id)
        return accepted, refused

    return send
