"""Heartbeats that prove progress, and the check that reads them (``gridwatch check-health``).

Each long-running process kind refreshes ``gw:health:{kind}:{instance}`` (an ISO time, with a TTL) only after it
has done a piece of work: the worker after each analysed batch (or each lease round while it holds no camera,
when there is nothing to analyse), the alerts consumer after each read of the stream, the dashboard after each
answered poll. A process that hangs with its port still open therefore lapses, which a port probe cannot see.
"""
from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from gridwatch import keys
from gridwatch.loop import Periodic

log = logging.getLogger(__name__)

KINDS = ("worker", "dashboard", "alerts")
DEFAULT_TTL_S = 15


heartbeat_key = keys.health


def beat(client: redis.Redis, kind: str, instance: str | None = None, ttl_seconds: int = DEFAULT_TTL_S) -> None:
    """Say this process made progress just now; a Redis error is logged, and the lapsing key is the alarm."""
    try:
        client.set(heartbeat_key(kind, instance), datetime.now(UTC).isoformat(), ex=ttl_seconds)
    except redis.RedisError as exc:
        log.warning("heartbeat %s not written: %s", heartbeat_key(kind, instance), exc)


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    message: str


def _age(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(text)).total_seconds()
    except ValueError:
        return None


def check(
    client: redis.Redis, kind: str, instance: str | None = None, *, any_instance: bool = False,
    hostname: str | None = None,
) -> HealthResult:
    """Fresh = a heartbeat key of this kind exists (its TTL has not run out).

    ``instance`` names one process exactly. Otherwise the keys of this host's processes count (``{kind}`` and
    ``{kind}:{hostname}-*``, which is what a compose health check running inside the container wants), or,
    with ``any_instance``, those of any host.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown process kind {kind!r}; one of {', '.join(KINDS)}")
    if instance is not None:
        found = [heartbeat_key(kind, instance)] if client.exists(heartbeat_key(kind, instance)) else []
        wanted = heartbeat_key(kind, instance)
    else:
        host = hostname or socket.gethostname()
        pattern = heartbeat_key(kind, "*") if any_instance else heartbeat_key(kind, f"{host}*")
        found = [k.decode() if isinstance(k, bytes) else k for k in client.scan_iter(match=pattern, count=500)]
        if client.exists(heartbeat_key(kind)):
            found.append(heartbeat_key(kind))
        wanted = f"{pattern} or {heartbeat_key(kind)}"
    if not found:
        return HealthResult(False, f"{kind} unhealthy: no fresh heartbeat ({wanted}); the process is down, stuck, "
                                   "or cannot reach Redis")
    ages = [a for a in (_age(client.get(k)) for k in found) if a is not None]
    newest = f", newest {min(ages):.1f} s ago" if ages else ""
    return HealthResult(True, f"{kind} healthy: {len(found)} heartbeat(s){newest}")


def http_ok(url: str, timeout: float = 5.0) -> bool:
    """True when ``url`` answers 2xx: the dashboard's progress is answering its own health endpoint."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError):
        return False


class HeartbeatThread(Periodic):
    """Beats ``gw:health:{kind}:{instance}`` every ``every_seconds`` while ``probe()`` says work progresses.

    For parts whose progress is easiest checked from outside their loop, e.g. the dashboard:
    ``HeartbeatThread(client, "dashboard", instance, probe=lambda: http_ok(server.url + "/healthz")).start()``.
    """

    def __init__(
        self, client: redis.Redis, kind: str, instance: str | None = None, *,
        probe: Callable[[], bool], every_seconds: float = 5.0, ttl_seconds: int = DEFAULT_TTL_S,
    ) -> None:
        super().__init__(f"heartbeat-{kind}", every_seconds)
        self.client = client
        self.kind = kind
        self.instance = instance
        self.probe = probe
        self.ttl_seconds = ttl_seconds

    def tick(self) -> None:
        try:
            healthy = self.probe()
        except Exception:  # noqa: BLE001 - a failing probe means no progress, not a failed heartbeat round
            log.exception("health probe of %s failed", self.kind)
            healthy = False
        if healthy:
            beat(self.client, self.kind, self.instance, self.ttl_seconds)
        else:
            log.warning("%s made no progress: heartbeat not refreshed", self.kind)
