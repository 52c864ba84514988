"""Push new alerts to every open wall: tail the Redis alerts stream and broadcast over websockets.

Runs its own asyncio loop in a thread. Each browser has a bounded queue and its own sender task, so a
slow or stuck browser only ever delays itself; when its queue overflows it is disconnected and, like any
client, reconnects with ``?since=<last stream id>`` to replay what it missed from the stream.

The websocket is on its own port, but browsers send a host's cookies to every port of it, so the handshake
carries the wall's login session: ``authorize(cookie_header)`` names the viewer (or refuses, close 4401), and a
viewer scoped to a grid only ever gets the alerts of its subtree.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from dashboard.auth.websocket import admitted
from dashboard.wall_queries import alert_view, is_stream_id
from geo.scope import within
from gridwatch import keys, timefmt
from gridwatch.events import alert_from_stream
from gridwatch.secrets import mask_url
from gridwatch.wsserver import WebsocketServerThread

log = logging.getLogger(__name__)

WS_PATH = "/ws"
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects with ?since and catches up from the stream
CLOSE_BAD_REQUEST = 1008
CLOSE_UNAVAILABLE = 1011
# Per-connection kernel send buffer: alerts are small and rare, and a frozen tab must fill its buffers (and
# so its queue, and be dropped) after a few hundred alerts, not after the megabytes TCP autotuning allows.
SOCKET_SNDBUF = 64 * 1024


class PushServerError(RuntimeError):
    pass


def _sid(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Any) -> list[tuple[str, dict[bytes, bytes]]]:
    """XRANGE / one XREAD stream reply -> [(id, fields)], the shape redis-py returns without decoding."""
    return [(_sid(eid), cast(dict[bytes, bytes], fields)) for eid, fields in (raw or [])]


def _sid_key(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)


def encode_entry(
    stream_id: str, fields: dict[bytes, bytes] | dict[str, str], tz: str = timefmt.DEFAULT_TIMEZONE
) -> str | None:
    """One stream entry -> the JSON text browsers get (the API's alert view, local time included);
    None (logged) for entries that are not alerts, and None for alerts the verdict filter sent to the desk's
    low-priority lane (they are not for the wall)."""
    try:
        alert = alert_from_stream(fields)
        view = alert_view(alert, tz)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("alerts stream entry %s skipped: %s", stream_id, exc)
        return None
    if alert.lane == "low":
        return None
    return json.dumps({"stream_id": stream_id, "alert": view}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is watching: ``scope`` is the grid code whose subtree they may see (None = the whole territory)."""

    name: str
    scope: str | None = None
    # The cameras they may watch live (the same ``dashboard.scoped.cameras_allowed`` as /video); None = all.
    cameras: frozenset[str] | None = None

    def sees(self, grid_code: str | None) -> bool:
        # Grid codes are hierarchical: a child's code starts with its parent's.
        return within(grid_code, self.scope)


ANYONE = Viewer("anyone")
Authorize = Callable[[str | None], Viewer | None]


def _grid_of(text: str) -> str | None:
    alert = json.loads(text).get("alert") or {}
    code = alert.get("grid_code")
    return code if isinstance(code, str) else None


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    queue: asyncio.Queue[tuple[str, str]]
    viewer: Viewer = ANYONE
    dropped: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class PushServer(WebsocketServerThread):
    """``PushServer(redis_url).start()``; browsers connect to ``url`` (optionally ``?since=<stream id>``)."""

    def __init__(
        self,
        redis_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        stream: str = keys.ALERTS_STREAM,
        *,
        queue_size: int = 256,
        replay_limit: int = 1000,
        block_ms: int = 2000,
        timezone: str = timefmt.DEFAULT_TIMEZONE,
        authorize: Authorize | None = None,
    ) -> None:
        """``authorize`` (None = everyone may watch everything) may be set later, before browsers connect."""
        timefmt.zone(timezone)  # an unknown zone fails here, not on the first alert
        super().__init__(host, port, what="push server", thread_name="gridwatch-push", error=PushServerError,
                         max_size=4096)
        self.authorize = authorize
        self._redis_url = redis_url
        self._stream = stream
        self._queue_size = queue_size
        self._replay_limit = replay_limit
        self._block_ms = block_ms
        self._tz = timezone
        self._clients: set[_Client] = set()
        self._redis: aioredis.Redis | None = None
        self._tail_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}{WS_PATH}"

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def start(self, timeout: float = 10.0) -> PushServer:
        self._clients.clear()
        super().start(timeout)
        log.info("push server on %s tailing %s (redis %s)", self.url, self._stream, mask_url(self._redis_url))
        return self

    # --- inside the loop thread -------------------------------------------------------------------

    async def _setup(self) -> None:
        self._redis = aioredis.Redis.from_url(self._redis_url)

    async def _on_listening(self) -> None:
        start_id = await self._start_id()
        self._tail_task = asyncio.create_task(self._tail(start_id), name="push-tail")

    async def _on_stopping(self) -> None:
        if self._tail_task is not None:
            self._tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tail_task
            self._tail_task = None

    async def _teardown(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _latest_id(self) -> str:
        assert self._redis is not None
        entries = _entries(await self._redis.xrevrange(self._stream, count=1))
        return entries[0][0] if entries else "0-0"

    async def _start_id(self) -> str | None:
        """The newest id when start() returns, so every alert added after start() is pushed."""
        try:
            return await asyncio.wait_for(self._latest_id(), timeout=3.0)
        except (redis.RedisError, TimeoutError) as exc:
            log.warning("push server: alerts stream %s not readable yet (%s); will retry", self._stream, exc)
            return None

    async def _tail(self, last_id: str | None) -> None:
        """XREAD BLOCK from ``last_id`` on; Redis outages are retried with backoff, never fatal."""
        assert self._redis is not None
        backoff = 0.5
        while True:
            try:
                if last_id is None:
                    last_id = await self._latest_id()
                reply = await self._redis.xread({self._stream: last_id}, block=self._block_ms, count=100)
                backoff = 0.5
            except redis.RedisError as exc:
                log.warning("push server: reading %s failed (%s); retrying in %.1f s", self._stream, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            for _stream, raw_entries in cast(list[tuple[Any, Any]], reply or []):
                for entry_id, fields in _entries(raw_entries):
                    last_id = entry_id
                    text = encode_entry(last_id, fields, self._tz)
                    if text is not None:
                        self._broadcast(last_id, text)
                        await asyncio.sleep(0)  # let senders drain between entries of a burst

    def _broadcast(self, stream_id: str, text: str) -> None:
        for client in list(self._clients):
            if client.dropped:
                continue
            try:
                client.queue.put_nowait((stream_id, text))
            except asyncio.QueueFull:
                self._drop(client, f"too slow: more than {self._queue_size} alerts behind")

    def _drop(self, client: _Client, reason: str) -> None:
        client.dropped = True
        self._clients.discard(client)
        for task in client.tasks:
            task.cancel()
        log.warning("push client %s dropped: %s", client.ws.remote_address, reason)
        # close() waits for the handshake at most close_timeout; run it aside so the broadcast never waits.
        asyncio.get_running_loop().create_task(client.ws.close(CLOSE_TOO_SLOW, reason[:120]))

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else WS_PATH
        parts = urlsplit(path)
        if parts.path.rstrip("/") not in ("", WS_PATH):
            await ws.close(CLOSE_BAD_REQUEST, f"unknown path {parts.path!r}; use {WS_PATH}")
            return
        since_values = parse_qs(parts.query).get("since", [])
        since = since_values[0] if since_values else None
        if since is not None and not is_stream_id(since):
            await ws.close(CLOSE_BAD_REQUEST, "since must be a stream id like 1732480000000-0")
            return
        viewer = await admitted(ws, self.authorize, ANYONE, "push")
        if viewer is None:
            return
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
        client = _Client(ws, asyncio.Queue(self._queue_size), viewer)
        # Registered before the replay: what arrives meanwhile waits in the queue and is de-duplicated.
        self._clients.add(client)
        try:
            sender = asyncio.create_task(self._send(client, since), name="push-send")
            client.tasks.append(sender)
            await ws.wait_closed()
        finally:
            self._clients.discard(client)
            for task in client.tasks:
                task.cancel()

    async def _send(self, client: _Client, since: str | None) -> None:
        ws = client.ws
        try:
            sent_up_to = await self._replay(client, since) if since is not None else None
            while True:
                stream_id, text = await client.queue.get()
                if sent_up_to is not None and _sid_key(stream_id) <= _sid_key(sent_up_to):
                    continue
                if client.viewer.sees(_grid_of(text)):
                    await ws.send(text)
        except ConnectionClosed:
            pass
        except redis.RedisError as exc:
            log.warning("push client %s: replay failed: %s", ws.remote_address, exc)
            await ws.close(CLOSE_UNAVAILABLE, "alerts stream unavailable; retry")

    async def _replay(self, client: _Client, since: str) -> str:
        """Send the entries after ``since`` (oldest first, at most replay_limit); return the last id sent."""
        assert self._redis is not None
        ws = client.ws
        last = since
        sent = 0
        while sent < self._replay_limit:
            ms, seq = _sid_key(last)
            batch = _entries(await self._redis.xrange(self._stream, min=f"{ms}-{seq + 1}",
                                                      count=min(200, self._replay_limit - sent)))
            if not batch:
                break
            for entry_id, fields in batch:
                last = entry_id
                text = encode_entry(last, fields, self._tz)
                if text is not None and client.viewer.sees(_grid_of(text)):
                    await ws.send(text)
                    sent += 1
        if sent >= self._replay_limit:
            log.warning("push client %s: replay capped at %d entries after %s", ws.remote_address, sent, since)
        return last

