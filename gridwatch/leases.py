"""Cameras shared by the workers through Redis: each camera is held by one worker at a time with an expiring lease.

A lease is ``gw:lease:camera:{id}`` = the holder's worker id, set with ``SET NX PX`` and renewed by the holder
with a compare-and-extend script, so a worker can only extend or release what it still holds. A worker that
crashes stops renewing; its leases lapse after ``lease_ttl`` and the others take the cameras on their next
round. Workers announce themselves in a sorted set (``gw:lease:workers``, scored by Redis' clock, pruned after
one ``lease_ttl``); this membership is the lease loop's own liveness, separate from the progress heartbeat
(``gw:health:worker:{id}``), because a worker that holds no camera yet makes no progress but must still get its
share. Each worker aims for ``ceil(cameras / live workers)``: one under its share takes free cameras, one over it
releases its surplus, so a new worker gets cameras within a couple of rounds. Which cameras a worker prefers is
rendezvous hashing of (worker, camera): stable, so a rebalance moves only the cameras it must.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable

import redis

from gridwatch import keys
from gridwatch.loop import ThreadPart

log = logging.getLogger(__name__)

WORKERS_KEY = keys.LEASE_WORKERS

# Extend only while the lease still names this worker: a lapsed lease taken by another is never stolen back.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
# Membership on Redis' clock, so workers on machines with skewed clocks agree on who is alive.
_MEMBERS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2] * 2)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


lease_key = keys.camera_lease


def preference(worker_id: str, camera_id: str) -> int:
    """Rendezvous score: every worker ranks the cameras differently, each ranking stable across restarts."""
    return int.from_bytes(hashlib.blake2b(f"{worker_id}\0{camera_id}".encode(), digest_size=8).digest(), "big")


def fair_share(cameras: int, workers: int) -> int:
    return math.ceil(cameras / max(workers, 1))


def holders(client: redis.Redis, camera_ids: Iterable[str]) -> dict[str, str | None]:
    """Which worker holds each camera now (None = free), for operators and tests."""
    ids = list(camera_ids)
    values = client.mget([lease_key(c) for c in ids]) if ids else []
    return {c: (v.decode() if isinstance(v, bytes) else v) for c, v in zip(ids, values, strict=True)}


class LeaseKeeper(ThreadPart):
    """Holds this worker's share of the cameras: ``start()``, ``held`` (a snapshot), ``stop()`` releases all.

    ``cameras()`` lists the camera ids to share (the enabled ones); ``on_change()`` is called (on the keeper's
    thread, so it must not block) whenever the held set changes.
    """

    def __init__(
        self,
        client: redis.Redis,
        worker_id: str,
        cameras: Callable[[], Iterable[str]],
        *,
        ttl_seconds: float = 10.0,
        renew_seconds: float = 1.0,
        on_change: Callable[[], object] | None = None,
        on_round: Callable[[LeaseKeeper], object] | None = None,
    ) -> None:
        if renew_seconds * 2 >= ttl_seconds:
            raise ValueError(
                f"lease renew interval {renew_seconds}s must be under half the lease TTL {ttl_seconds}s, "
                "or a slow round lets leases lapse"
            )
        super().__init__("camera-leases")
        self.client = client
        self.worker_id = worker_id
        self._cameras = cameras
        self.ttl_ms = int(ttl_seconds * 1000)
        self.renew_seconds = renew_seconds
        self._on_change = on_change
        self._on_round = on_round
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._members = client.register_script(_MEMBERS)
        self._held: dict[str, float] = {}  # camera id -> local deadline (monotonic) of the lease
        self._lock = threading.Lock()
        self.live_workers = 0
        self.rounds = 0

    @property
    def held(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._held)

    def holds(self, camera_id: str) -> bool:
        with self._lock:
            return camera_id in self._held

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop renewing and hand every lease back at once, so the other workers need not wait for the TTL."""
        ended = super().stop(timeout)
        with self._lock:
            cams, self._held = list(self._held), {}
        try:
            for cid in cams:
                self._release(keys=[lease_key(cid)], args=[self.worker_id])
            self.client.zrem(WORKERS_KEY, self.worker_id)
            log.info("worker %s released cameras %s", self.worker_id, ", ".join(sorted(cams)) or "(none)")
        except redis.RedisError as exc:
            log.warning("worker %s could not release its leases (they lapse in %.0f s): %s",
                        self.worker_id, self.ttl_ms / 1000, exc)
        if cams and self._on_change is not None:
            self._on_change()
        return ended

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.balance()
                if self._on_round is not None:
                    self._on_round(self)
            except redis.RedisError as exc:
                log.warning("worker %s: camera leases not renewed: %s", self.worker_id, exc)
                self._drop_expired()
            except Exception:  # noqa: BLE001 - the lease loop must keep running whatever one round did
                log.exception("camera lease round failed")
                self._drop_expired()
            self._stop.wait(self.renew_seconds)

    def _drop_expired(self) -> None:
        """Cameras whose lease may have lapsed (Redis unreachable) are given up: one holder, never two."""
        now = time.monotonic()
        with self._lock:
            lapsed = [c for c, deadline in self._held.items() if deadline <= now]
            for cid in lapsed:
                del self._held[cid]
        if lapsed:
            log.warning("worker %s gave up cameras %s: their leases could not be renewed",
                        self.worker_id, ", ".join(sorted(lapsed)))
            if self._on_change is not None:
                self._on_change()

    def balance(self) -> None:
        """One round: announce this worker, renew, release surplus, take free cameras up to the fair share."""
        self.rounds += 1
        members = self._members(keys=[WORKERS_KEY], args=[self.worker_id, self.ttl_ms])
        self.live_workers = len(members)
        wanted = sorted(set(self._cameras()), key=lambda c: preference(self.worker_id, c), reverse=True)
        share = fair_share(len(wanted), self.live_workers)
        before = self.held
        with self._lock:
            current = dict(self._held)
        kept: dict[str, float] = {}
        for cid in current:
            sent = time.monotonic()
            if cid in wanted and self._renew(keys=[lease_key(cid)], args=[self.worker_id, self.ttl_ms]):
                kept[cid] = sent + self.ttl_ms / 1000
            elif cid in wanted:
                log.warning("worker %s lost the lease of camera %s", self.worker_id, cid)
            else:
                self._release(keys=[lease_key(cid)], args=[self.worker_id])  # camera removed or disabled
        surplus = [c for c in reversed(wanted) if c in kept][: max(0, len(kept) - share)]
        for cid in surplus:
            self._release(keys=[lease_key(cid)], args=[self.worker_id])
            del kept[cid]
        for cid in wanted:
            if len(kept) >= share:
                break
            if cid in kept:
                continue
            sent = time.monotonic()
            if self.client.set(lease_key(cid), self.worker_id, nx=True, px=self.ttl_ms):
                kept[cid] = sent + self.ttl_ms / 1000
        with self._lock:
            self._held = kept
        after = frozenset(kept)
        if after != before:
            log.info(
                "worker %s holds %d of %d cameras (%d live workers, share %d): +%s -%s",
                self.worker_id, len(after), len(wanted), self.live_workers, share,
                ",".join(sorted(after - before)) or "none", ",".join(sorted(before - after)) or "none",
            )
            if self._on_change is not None:
                self._on_change()
