"""A websocket receiver for vehicles' GPS: ``ws://host:port/telemetry/<vehicle_id>``, one JSON fix per message.

Every message is answered, in order: ``{"ok": true, "accepted": 1}`` or ``{"ok": false, "error": "..."}``
naming the field and the reason (bad JSON, impossible coordinates, a time in the future ...). A bad message
never closes the connection; the next good one is accepted. An unknown path is closed with code 1008 and
the reason. Runs its own asyncio loop in a thread; the Redis writes run in a worker thread so one slow write
never holds up the other vehicles.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ingest.telemetry import VEHICLE_ID, StoreUnavailable, TelemetryError, TelemetryIngest

log = logging.getLogger(__name__)

PATH_PREFIX = "/telemetry/"
CLOSE_BAD_REQUEST = 1008
MAX_MESSAGE = 64 * 1024


class TelemetryWsError(RuntimeError):
    pass


def _bound_port(server: Server) -> int:
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise TelemetryWsError("telemetry websocket server has no listening socket")


class TelemetryWsServer:
    """``TelemetryWsServer(ingest, host, port).start()``; vehicles connect to ``url_for(vehicle_id)``; ``stop()``."""

    def __init__(self, ingest: TelemetryIngest, host: str = "127.0.0.1", port: int = 0) -> None:
        self._ingest = ingest
        self._host = host
        self._requested_port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None
        self.connections = 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise TelemetryWsError("telemetry websocket server is not started")
        return self._port

    def url_for(self, vehicle_id: str) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "", "::") else self._host
        return f"ws://{host}:{self.port}{PATH_PREFIX}{vehicle_id}"

    def start(self, timeout: float = 10.0) -> TelemetryWsServer:
        if self._thread is not None:
            raise TelemetryWsError("telemetry websocket server already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="telemetry-ws", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TelemetryWsError(f"telemetry websocket server did not start within {timeout:.0f} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise TelemetryWsError(
                f"telemetry websocket server cannot listen on {self._host}:{self._requested_port}: {self._error}"
            ) from self._error
        log.info("GPS telemetry websocket on ws://%s:%d%s<vehicle_id>", self._host, self.port, PATH_PREFIX)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just ended
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("telemetry websocket thread did not end within %.0f s", timeout)
        self._thread = None
        self._port = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to start() so the caller sees why
            self._error = exc
            self._ready.set()
            if self._port is not None:
                log.exception("telemetry websocket server stopped on an error")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._handle, self._host, self._requested_port, max_size=MAX_MESSAGE,
                         ping_interval=20, ping_timeout=20, close_timeout=2) as server:
            self._port = _bound_port(server)
            self._ready.set()
            await self._stopping.wait()
            server.close()
            await server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path).path if ws.request is not None else ""
        vehicle_id = path[len(PATH_PREFIX):] if path.startswith(PATH_PREFIX) else ""
        if not VEHICLE_ID.match(vehicle_id):
            await ws.close(CLOSE_BAD_REQUEST, f"use {PATH_PREFIX}<vehicle_id> (letters, digits, . - _)")
            return
        self.connections += 1
        log.info("vehicle %s connected from %s", vehicle_id, ws.remote_address)
        try:
            async for message in ws:
                reply = await asyncio.to_thread(self._answer, vehicle_id, message)
                await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        log.info("vehicle %s disconnected", vehicle_id)

    def _answer(self, vehicle_id: str, message: str | bytes) -> dict[str, object]:
        try:
            outcome = self._ingest.submit_text(vehicle_id, message)
        except TelemetryError as exc:
            return {"ok": False, "error": str(exc)}
        except StoreUnavailable as exc:
            log.warning("vehicle %s: %s", vehicle_id, exc)
            return {"ok": False, "error": "GPS track store unavailable; send again later"}
        if outcome.accepted == 0:
            return {"ok": False, "error": outcome.rejected[0].error, **outcome.to_dict()}
        return {"ok": True, **outcome.to_dict()}
