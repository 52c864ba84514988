"""A websocket receiver for vehicles' GPS: ``ws://host:port/telemetry/<vehicle_id>``, one JSON fix per message.

Every message is answered, in order: ``{"ok": true, "accepted": 1}`` or ``{"ok": false, "error": "..."}``
naming the field and the reason (bad JSON, impossible coordinates, a time in the future ...). A bad message
never closes the connection; the next good one is accepted. An unknown path is closed with code 1008 and
the reason. Runs its own asyncio loop in a thread; the Redis writes run in a worker thread so one slow write
never holds up the other vehicles.

The handshake passes the front door's car check (dashboard.auth.policy): ``Authorization: Bearer <auth.device_token>``
(or ``?token=`` for clients that cannot set headers); without a token configured the socket is closed to everyone
unless ``auth.open_car_routes`` (dev only). A handshake carrying a browser's Origin of another host is refused,
so no web page can drive a car's socket. Refusals are HTTP 401 / 403 before the upgrade.
"""
from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dashboard.auth.policy import device_ok, origin_ok
from fleet.telemetry import TelemetryIngest
from gridwatch.settings import AuthSettings
from gridwatch.wsserver import WebsocketServerThread
from ingest.gps import VEHICLE_ID, StoreUnavailable, TelemetryError

log = logging.getLogger(__name__)

PATH_PREFIX = "/telemetry/"
CLOSE_BAD_REQUEST = 1008
MAX_MESSAGE = 64 * 1024


class TelemetryWsError(RuntimeError):
    pass


class TelemetryWsServer(WebsocketServerThread):
    """``TelemetryWsServer(ingest, host, port, auth=settings.auth).start()``; vehicles connect to
    ``url_for(vehicle_id)``; ``stop()``. ``auth`` defaults to closed (no token, car routes not open)."""

    def __init__(self, ingest: TelemetryIngest, host: str = "127.0.0.1", port: int = 0,
                 auth: AuthSettings | None = None) -> None:
        super().__init__(host, port, what="telemetry websocket server", thread_name="telemetry-ws",
                         error=TelemetryWsError, max_size=MAX_MESSAGE, process_request=self._admit)
        self._ingest = ingest
        self._auth = auth or AuthSettings()
        self.connections = 0
        self.refused = 0

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """The handshake's car check (runs before the upgrade): 401 without the token, 403 from a web page."""
        header = request.headers.get("Authorization")
        if header is None:
            token = parse_qs(urlsplit(request.path).query).get("token")
            header = f"Bearer {token[0]}" if token else None
        host = request.headers.get("Host") or ""
        if not origin_ok(request.headers.get("Origin"), None, host, any_port=True):
            self.refused += 1
            log.warning("telemetry websocket: refused a handshake from origin %r", request.headers.get("Origin"))
            return connection.respond(HTTPStatus.FORBIDDEN, "cross-site websocket refused\n")
        if not device_ok(self._auth, header):
            self.refused += 1
            log.info("telemetry websocket: refused a handshake without the vehicles' token from %s",
                     connection.remote_address)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "send the vehicles' bearer token\n")
        return None

    def url_for(self, vehicle_id: str) -> str:
        return f"ws://{self.loopback_host}:{self.port}{PATH_PREFIX}{vehicle_id}"

    def start(self, timeout: float = 10.0) -> TelemetryWsServer:
        super().start(timeout)
        log.info("GPS telemetry websocket on ws://%s:%d%s<vehicle_id>", self._host, self.port, PATH_PREFIX)
        return self

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
