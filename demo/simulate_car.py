"""Drive a simulated patrol car along a route of the demo grid map, reporting GPS fixes like a real vehicle.

    python -m demo.simulate_car --vehicle car-1 --http http://127.0.0.1:8050
    python -m demo.simulate_car --vehicle car-1 --ws ws://127.0.0.1:8052 --rate 2 --seconds 60

Each fix (lat, lon, heading, speed, time) is the car's position now on ``geo.routes``'s route, sent by HTTP
POST to ``/api/telemetry/<vehicle>`` or as one message on ``/telemetry/<vehicle>`` of the websocket
receiver. Failed sends are logged and counted; the car keeps driving and sends the next fix.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from geo.routes import ROUTES, SimulatedRoute, route
from gridwatch.loop import Periodic
from gridwatch.types import GpsFix

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], dict[str, Any]]


class SendError(RuntimeError):
    """The receiver refused a fix or could not be reached; the message says which and why."""


def fix_payload(fix: GpsFix) -> dict[str, Any]:
    return {"lat": round(fix.lat, 7), "lon": round(fix.lon, 7), "time": fix.time.isoformat(),
            "heading": None if fix.heading is None else round(fix.heading, 1),
            "speed": None if fix.speed is None else round(fix.speed, 2)}


def http_sender(base_url: str, vehicle_id: str, timeout: float = 5.0, token: str | None = None) -> Send:
    """POSTs each fix to the dashboard's telemetry route (with the vehicles' bearer ``token`` when one is set)."""
    url = f"{base_url.rstrip('/')}/api/telemetry/{vehicle_id}"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def send(payload: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            raise SendError(f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:200]}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SendError(f"cannot POST to {url}: {exc}") from None

    return send


class WsSender:
    """One websocket to the receiver, reopened after a failure; each fix waits for its answer."""

    def __init__(self, base_url: str, vehicle_id: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/telemetry/{vehicle_id}"
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else None  # the vehicles' bearer token
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()  # websockets wants its connections entered as context managers

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            if self._ws is None:
                self._ws = self._stack.enter_context(connect(self.url, open_timeout=self.timeout, close_timeout=1,
                                                                   additional_headers=self._headers))
            self._ws.send(json.dumps(payload))
            reply = dict(json.loads(self._ws.recv(timeout=self.timeout)))
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            self.close()
            raise SendError(f"websocket {self.url}: {type(exc).__name__}: {exc}") from None
        if not reply.get("ok"):
            raise SendError(f"refused: {reply.get('error')}")
        return reply

    def close(self) -> None:
        self._ws = None
        with contextlib.suppress(OSError, WebSocketException):
            self._stack.close()


class CarSimulator(Periodic):
    """Sends the car's fix ``rate_hz`` times a second until ``stop()``; counts sent and failed fixes."""

    def __init__(self, car: SimulatedRoute, send: Send, rate_hz: float = 1.0, vehicle_id: str = "car") -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate must be > 0 fixes per second, got {rate_hz}")
        super().__init__(f"car-{vehicle_id}", 1.0 / rate_hz)
        self.car = car
        self.send = send
        self.vehicle_id = vehicle_id
        self.sent = 0
        self.failed = 0

    def step(self) -> bool:
        """Send one fix for now; True if the receiver accepted it."""
        fix = self.car.fix_at(datetime.now(UTC))
        try:
            self.send(fix_payload(fix))
        except SendError as exc:
            self.failed += 1
            log.warning("car %s: fix not delivered: %s", self.vehicle_id, exc)
            return False
        self.sent += 1
        return True

    def tick(self) -> None:
        self.step()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.simulate_car", description=__doc__.split("\n")[0])
    p.add_argument("--vehicle", required=True, help="vehicle id (the camera id of its camera by default)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--http", metavar="URL", help="the dashboard, e.g. http://127.0.0.1:8050")
    target.add_argument("--ws", metavar="URL", help="the telemetry websocket, e.g. ws://127.0.0.1:8052")
    p.add_argument("--route", default="jinshui-demo", choices=sorted(ROUTES), help="route to drive")
    p.add_argument("--speed", type=float, default=8.0, help="metres per second (default 8)")
    p.add_argument("--rate", type=float, default=1.0, help="fixes per second (default 1)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    p.add_argument("--token", default=None, help="the vehicles' bearer token (settings auth.device_token), if set")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    send: Send = (http_sender(args.http, args.vehicle, token=args.token) if args.http
                  else WsSender(args.ws, args.vehicle, token=args.token))
    sim = CarSimulator(route(args.route, speed_mps=args.speed), send, args.rate, args.vehicle).start()
    log.info("car %s driving %s at %.1f m/s, %.1f fixes/s", args.vehicle, args.route, args.speed, args.rate)
    try:
        threading.Event().wait(args.seconds)
    except KeyboardInterrupt:
        pass
    sim.stop()
    if isinstance(send, WsSender):
        send.close()
    log.info("car %s: %d fixes delivered, %d failed", args.vehicle, sim.sent, sim.failed)
    return 0 if sim.sent else 1


if __name__ == "__main__":
    sys.exit(main())
