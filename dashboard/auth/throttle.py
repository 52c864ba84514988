"""Wrong passwords slow the guesser down, not the account's owner: a growing delay per address and per user name.

After ``FREE`` wrong passwords from one address (any names), or for one name from anywhere, each further one
doubles the wait before the next try is heard (1 s, 2 s, 4 s ... at most ``MAX_DELAY_S``); a try during the
wait is answered 429 with ``Retry-After`` and not checked. The per-name count is not applied to an address the
user logged in from before, so a stranger hammering ``admin`` does not keep the admin out. Counts live in Redis
(shared by every dashboard process, forgotten after ``WINDOW_S`` without failures); when Redis does not answer,
logins are not throttled (the database's password check still stands).
"""
from __future__ import annotations

import logging
import time

import redis

from gridwatch import keys

log = logging.getLogger(__name__)

FREE = 5
FREE_PER_NAME = 10
MAX_DELAY_S = 300.0
WINDOW_S = 3600
KNOWN_ADDRESS_DAYS = 60


def _delay(failures: int, free: int) -> float:
    return 0.0 if failures <= free else min(MAX_DELAY_S, 2.0 ** (failures - free - 1))


class LoginThrottle:
    """``wait(address, name)`` seconds before a try is heard; ``failed`` / ``succeeded`` after the check."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def _keys(self, address: str, name: str) -> tuple[str, str, str]:
        return (keys.login_failures_by_address(address), keys.login_failures_by_name(name),
                keys.login_known_addresses(name))

    def wait(self, address: str, name: str) -> float:
        addr_key, name_key, known_key = self._keys(address, name)
        try:
            pipe = self._redis.pipeline()
            pipe.hmget(addr_key, "n", "last")
            pipe.hmget(name_key, "n", "last")
            pipe.sismember(known_key, address)
            by_addr, by_name, known = pipe.execute()
        except redis.RedisError as exc:
            log.warning("login throttle unavailable (Redis): %s", exc)
            return 0.0
        now = time.time()
        waits = [_remaining(by_addr, FREE, now)]
        if not known:
            waits.append(_remaining(by_name, FREE_PER_NAME, now))
        return max(waits)

    def failed(self, address: str, name: str) -> None:
        now = time.time()
        try:
            pipe = self._redis.pipeline()
            for key in self._keys(address, name)[:2]:
                pipe.hincrby(key, "n", 1)
                pipe.hset(key, "last", now)
                pipe.expire(key, WINDOW_S)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("login throttle not updated (Redis): %s", exc)

    def succeeded(self, address: str, name: str) -> None:
        addr_key, name_key, known_key = self._keys(address, name)
        try:
            pipe = self._redis.pipeline()
            pipe.delete(name_key)
            pipe.sadd(known_key, address)
            pipe.expire(known_key, KNOWN_ADDRESS_DAYS * 86400)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("login throttle not updated (Redis): %s", exc)


def _remaining(fields: list[bytes | None], free: int, now: float) -> float:
    raw_n, raw_last = fields
    if raw_n is None or raw_last is None:
        return 0.0
    return max(0.0, float(raw_last) + _delay(int(raw_n), free) - now)
