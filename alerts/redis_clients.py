"""Redis clients that fail fast: a publisher or consumer must notice an outage in a fraction of a second.

The application's shared client may wait and retry for seconds; these never do. They answer a
``redis.ConnectionError`` / ``redis.TimeoutError`` at once, and the part that owns them decides when to retry.
"""
from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT_S = 0.25
COMMAND_TIMEOUT_S = 1.0

# Connection settings that are about where and who, not about how patiently (those are set below).
_KEPT = ("host", "port", "db", "username", "password", "path", "ssl", "ssl_cert_reqs", "ssl_ca_certs",
         "ssl_certfile", "ssl_keyfile", "client_name", "protocol")


def fail_fast_client(
    source: redis.Redis | str,
    command_timeout_s: float = COMMAND_TIMEOUT_S,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> redis.Redis:
    """A new client to the same server as ``source`` (a client or a redis:// URL) with short timeouts, no retries.

    A blocking read (XREADGROUP BLOCK) must pass a ``command_timeout_s`` longer than its block time.
    """
    patience: dict[str, Any] = {
        "socket_connect_timeout": connect_timeout_s,
        "socket_timeout": command_timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
        "health_check_interval": 0,
    }
    if isinstance(source, str):
        return redis.Redis.from_url(source, **patience)
    pool = source.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k in _KEPT}
    pool_copy = redis.ConnectionPool(connection_class=pool.connection_class, **kwargs, **patience)
    return redis.Redis(connection_pool=pool_copy)
