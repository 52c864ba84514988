"""``gridwatch check-health``: exit 0 only while the process kind's progress heartbeat is fresh (real Redis)."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
import redis

from centre.cli import main
from gridwatch.health import beat, check, heartbeat_key
from gridwatch.redis_server import EmbeddedRedis


def test_a_fresh_heartbeat_is_healthy_and_a_lapsed_one_is_not(redis_client: redis.Redis) -> None:
    assert not check(redis_client, "worker", "w1").ok
    beat(redis_client, "worker", "w1", ttl_seconds=3)  # checked at once: 3 s is ample even on a loaded machine
    result = check(redis_client, "worker", "w1")
    assert result.ok and "s ago" in result.message
    time.sleep(3.3)  # past the TTL for sure: Redis expires the key by its own clock
    lapsed = check(redis_client, "worker", "w1")
    assert not lapsed.ok
    assert "no fresh heartbeat (gw:health:worker:w1)" in lapsed.message


def test_without_an_id_this_hosts_processes_count(redis_client: redis.Redis) -> None:
    beat(redis_client, "worker", "other-host-7")
    assert not check(redis_client, "worker", hostname="this-host").ok
    assert check(redis_client, "worker", any_instance=True).ok
    beat(redis_client, "worker", "this-host-42")
    assert check(redis_client, "worker", hostname="this-host").ok
    beat(redis_client, "alerts")  # a single process kind may use the plain key
    assert check(redis_client, "alerts", hostname="this-host").ok
    with pytest.raises(ValueError, match="unknown process kind"):
        check(redis_client, "toaster")


def test_check_health_command_exit_codes(
    redis_client: redis.Redis, redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert main(["check-health", "dashboard"]) == 1
    assert "dashboard unhealthy" in capsys.readouterr().err
    redis_client.set(heartbeat_key("dashboard", f"{socket.gethostname()}-1"), "2026-01-01T00:00:00+00:00", ex=15)
    assert main(["check-health", "dashboard"]) == 0
    assert "dashboard healthy" in capsys.readouterr().out
    beat(redis_client, "worker", "w9")
    assert main(["check-health", "worker", "--id", "w9"]) == 0
    assert main(["check-health", "worker", "--id", "w8"]) == 1


def test_check_health_says_when_redis_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gridwatch.redis_server import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://:secret@127.0.0.1:{free_port()}/0")
    assert main(["check-health", "worker"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Redis" in err and "secret" not in err
    monkeypatch.delenv("REDIS_URL")
    assert main(["check-health", "worker"]) == 1
    assert "REDIS_URL" in capsys.readouterr().err


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.05)


def test_heartbeat_thread_beats_only_while_the_probe_sees_progress(redis_client: redis.Redis) -> None:
    from gridwatch.health import HeartbeatThread

    progressing = [True]
    hb = HeartbeatThread(redis_client, "dashboard", "d1", probe=lambda: progressing[0], every_seconds=0.1,
                         ttl_seconds=1).start()
    try:
        wait_until(lambda: check(redis_client, "dashboard", "d1").ok, 15, "the first heartbeat")
        progressing[0] = False  # e.g. the web server stopped answering
        # A beat already under way may still land (late, on a loaded machine): wait for the lapse ...
        wait_until(lambda: not check(redis_client, "dashboard", "d1").ok, 15, "the heartbeat to lapse")
        time.sleep(1.2)  # ... and it stays lapsed: had the thread kept beating (every 0.1 s), the key would be back
        assert not check(redis_client, "dashboard", "d1").ok
    finally:
        hb.stop()
