"""The push websocket against the private redis-server: live alerts, replay after a reconnect, slow clients."""
from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from dashboard.push import PushServer, PushServerError
from gridwatch import keys
from gridwatch.events import alert_to_dict, alert_to_stream
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.types import Alert


@pytest.fixture()
def push(redis_server: EmbeddedRedis, redis_client: redis.Redis) -> Iterator[PushServer]:
    server = PushServer(redis_server.url, port=0).start()
    yield server
    server.stop()


def _xadd(client: redis.Redis, alert: Alert) -> str:
    sid = client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]
    return sid.decode() if isinstance(sid, bytes) else str(sid)


def _recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    msg = json.loads(ws.recv(timeout=timeout))
    assert isinstance(msg, dict)
    return msg


def _wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_connected_browser_receives_each_new_alert(
    push: PushServer, redis_client: redis.Redis, make_alert: Callable[..., Alert]
) -> None:
    with connect(push.url) as ws:
        _wait_for(lambda: push.client_count == 1, "the client to be registered")
        alert = make_alert(category="0503")
        sid = _xadd(redis_client, alert)

        msg = _recv(ws)

    # The stored alert as the API shows it, with the same instant in China time beside the UTC time.
    china = alert.detected_at.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    assert msg == {"stream_id": sid, "alert": {**alert_to_dict(alert), "detected_at_local": china}}
    local = datetime.fromisoformat(msg["alert"]["detected_at_local"])
    assert local == alert.detected_at and local.utcoffset() == timedelta(hours=8)
    assert msg["alert"]["category_zh"] == "占道经营"


def test_reconnecting_with_since_replays_what_was_missed_then_goes_live(
    push: PushServer, redis_client: redis.Redis, make_alert: Callable[..., Alert]
) -> None:
    first = make_alert()
    with connect(push.url) as ws:
        _wait_for(lambda: push.client_count == 1, "the client to be registered")
        seen = _recv(ws) if _xadd(redis_client, first) else None
    assert seen is not None and seen["alert"]["id"] == first.id
    _wait_for(lambda: push.client_count == 0, "the server to notice the disconnect")

    missed = [make_alert(category=c) for c in ("0501", "0507")]
    missed_ids = [_xadd(redis_client, a) for a in missed]

    with connect(f"{push.url}?since={seen['stream_id']}") as ws:
        replayed = [_recv(ws), _recv(ws)]
        assert [m["alert"]["id"] for m in replayed] == [a.id for a in missed]
        assert [m["stream_id"] for m in replayed] == missed_ids
        live = make_alert(category="0599")
        _xadd(redis_client, live)
        after = _recv(ws)
        assert after["alert"]["id"] == live.id  # each alert once: nothing replayed twice
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


def test_a_since_that_is_not_a_stream_id_is_refused(push: PushServer) -> None:
    with connect(f"{push.url}?since=yesterday") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "stream id" in closed.value.rcvd.reason


def _stuck_client(port: int) -> socket.socket:
    """A browser that completes the handshake, then never reads again (a frozen tab)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_a_stuck_browser_is_dropped_without_slowing_the_others(
    redis_server: EmbeddedRedis, redis_client: redis.Redis, make_alert: Callable[..., Alert]
) -> None:
    server = PushServer(redis_server.url, port=0, queue_size=64).start()
    stuck = _stuck_client(server.port)
    try:
        with connect(server.url) as ws:
            _wait_for(lambda: server.client_count == 2, "both clients to be registered")
            sent: list[str] = []
            received: list[str] = []
            # Lock-step batches: the reading client is never more than one batch behind, while the frozen
            # one falls further behind with every batch until its buffers and queue overflow.
            for _ in range(60):
                batch = [make_alert() for _ in range(50)]
                pipe = redis_client.pipeline(transaction=False)
                for a in batch:
                    pipe.xadd(keys.ALERTS_STREAM, alert_to_stream(a))  # type: ignore[arg-type]
                pipe.execute()
                sent += [a.id for a in batch]
                received += [_recv(ws, timeout=20)["alert"]["id"] for _ in batch]
                if server.client_count == 1:
                    break

            assert server.client_count == 1, "the frozen client was never dropped"
            assert received == sent  # the reading client got every alert, in order
            extra = make_alert()
            _xadd(redis_client, extra)
            assert _recv(ws)["alert"]["id"] == extra.id  # and keeps getting them
    finally:
        stuck.close()
        server.stop()


def test_a_busy_port_fails_start_with_a_message_naming_it(redis_server: EmbeddedRedis) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PushServerError, match=f"127.0.0.1:{port}"):
            PushServer(redis_server.url, port=port).start()


# ---- the wall's push port checks the login, and a scoped viewer sees only its subtree -------------------------


def _push_url(dashboard: Any) -> str:
    return f"ws://127.0.0.1:{dashboard.push.port}/ws"


def test_the_push_port_refuses_a_browser_without_a_login(dashboard: Any) -> None:
    with connect(_push_url(dashboard)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    # 4401 makes the page reload, which lands on the login form.
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with connect(_push_url(dashboard), additional_headers={"Cookie": "gw_session=forged"}) as ws, \
            pytest.raises(ConnectionClosed) as forged:
        ws.recv(timeout=5)
    assert forged.value.rcvd is not None and forged.value.rcvd.code == 4401


def test_a_grid_staff_viewer_is_pushed_only_its_own_subtree(
    dashboard: Any, repo: Any, redis_client: redis.Redis, make_alert: Callable[..., Alert]
) -> None:
    from auth_testing import add_user, cookie_header

    from alerts.workflow import Role

    add_user(repo, "grid-a", role=Role.GRID_STAFF, scope_grid="410105001001")
    add_user(repo, "chief", role=Role.SUPERVISOR)
    staff = cookie_header(dashboard.url, "grid-a")
    chief = cookie_header(dashboard.url, "chief")
    with connect(_push_url(dashboard), additional_headers=staff) as mine, \
            connect(_push_url(dashboard), additional_headers=chief) as everything:
        _wait_for(lambda: dashboard.push.client_count == 2, "both viewers to be registered")
        other = make_alert(grid_code="410105001002001")  # the neighbouring community
        own = make_alert(grid_code="410105001001003")
        _xadd(redis_client, other)
        _xadd(redis_client, own)
        assert [_recv(everything)["alert"]["id"] for _ in range(2)] == [other.id, own.id]
        assert _recv(mine)["alert"]["id"] == own.id  # the other community's alert never reached this viewer
        # ... nor does a replay after a reconnect hand it over.
    with connect(f"{_push_url(dashboard)}?since=0-0", additional_headers=staff) as again:
        assert _recv(again)["alert"]["id"] == own.id
        with pytest.raises(TimeoutError):
            again.recv(timeout=1)
