"""The private redis-server of ``gridwatch run``: its data in an append-only file, brought back when it dies."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis

from gridwatch.redis_server import EmbeddedRedis

T = TypeVar("T")


def eventually(fn: Callable[[], T], timeout: float, what: str) -> T:
    """``fn()``'s first answer that is not an error (a client reconnects on its next command); waits on it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except redis.ConnectionError:
            assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
            time.sleep(0.05)


def _aof_written(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return (info["aof_buffer_length"] == 0 and info["aof_rewrite_in_progress"] == 0
            and info["aof_rewrite_scheduled"] == 0)


def test_a_killed_server_is_restarted_on_its_port_with_its_data(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "redis", supervise=True).start()
    client = redis.Redis.from_url(server.url)
    try:
        client.set("gw:test:plain", "kept")
        client.hset("gw:test:state", mapping={"status": "online"})
        client.expire("gw:test:state", 600)
        entry = client.xadd("gw:test:stream", {"kind": "alert"})
        client.xgroup_create("gw:test:stream", "cases", id="0")
        pid, port = server.pid, server.port
        assert pid is not None
        # appendfsync everysec: a write reaches the file before its reply, except while a slow fsync is under way,
        # when Redis postpones it up to 2 s (a CI run beside another lost the hash here). Wait for the file to
        # hold every write, as it does within 2 s of them, then kill.
        written_by = time.monotonic() + 30
        while not _aof_written(client):
            assert time.monotonic() < written_by, "the append-only file never held every write"
            time.sleep(0.05)

        os.kill(pid, signal.SIGKILL)
        # What the file held is what the restarted server has: nothing is lost to the crash.
        assert eventually(lambda: client.get("gw:test:plain"), 60, "the restarted server") == b"kept"
        # The supervisor counts the restart once the server answers: the client may see it answer first.
        deadline = time.monotonic() + 30
        while server.restarts < 1:
            assert time.monotonic() < deadline, "the supervisor never counted the restart"
            time.sleep(0.05)
        assert server.pid not in (None, pid) and server.port == port and server.restarts == 1
        assert not Path(f"/proc/{pid}").exists()  # reaped, not left a zombie
        assert client.hgetall("gw:test:state") == {b"status": b"online"} and client.ttl("gw:test:state") > 0
        assert [e[0] for e in client.xrange("gw:test:stream") or []] == [entry]
        assert [g["name"] for g in client.xinfo_groups("gw:test:stream")] == [b"cases"]
    finally:
        client.close()
        server.stop()
    assert server.pid is None  # stopped for good: the supervisor does not bring it back

    # A new start (gridwatch run started again) finds the data where it left it.
    again = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    try:
        assert redis.Redis.from_url(again.url).get("gw:test:plain") == b"kept"
    finally:
        again.stop()


def test_the_test_server_keeps_nothing(tmp_path: Path) -> None:
    """Without a data folder (the tests' fixture) the server is in memory only and not supervised."""
    with EmbeddedRedis() as server:
        assert server.pid is not None
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.close()
