"""The car's GPS receiver as a thread handing fixes to a callback: a simulated route, serial NMEA, or gpsd.

Every feed thins fixes to one per ``interval_seconds``, keeps going through a receiver that is unplugged or
talks garbage (reopening it after ``reconnect_seconds``), and counts what it skipped in ``stats`` so the
agent's health shows a receiver without a fix or with a bad cable.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from geo.routes import route
from gridwatch.loop import ThreadPart
from gridwatch.types import GpsFix
from patrol.nmea import NmeaParser, NmeaStats
from patrol.settings import GpsSettings

log = logging.getLogger(__name__)

FixSink = Callable[[GpsFix], None]
READ_POLL_S = 0.5
MAX_LINE = 4096

_BAUD = {b: getattr(termios, f"B{b}") for b in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400,
                                                460800)}


class GpsSourceError(RuntimeError):
    """The receiver cannot be opened or read; the message names the device and the cause."""


class GpsFeed(ThreadPart):
    """Base: a thread calling ``_run_once`` until stopped; subclasses produce fixes through ``_emit``."""

    name = "gps"

    def __init__(self, settings: GpsSettings, sink: FixSink) -> None:
        super().__init__(f"patrol-{self.name}")
        self.settings = settings
        self._sink = sink
        self.stats = NmeaStats()
        self.errors = 0
        self.last_error: str | None = None
        self.last_fix: GpsFix | None = None
        self._last_emit: float | None = None

    def start(self) -> GpsFeed:
        if self._thread is not None:  # the feed's own error type: what the agent catches from a feed
            raise GpsSourceError(f"{self.name} feed already started")
        return super().start()

    def _left_busy(self, timeout: float) -> None:
        log.warning("%s feed did not stop within %.0f s", self.name, timeout)

    def _emit(self, fix: GpsFix) -> None:
        t = fix.time.timestamp()
        # Thinning by the fix's own time (not arrival): a backlog replayed by gpsd thins the same way.
        # A fix older than the last one kept means the receiver's clock was reset: start thinning afresh.
        if self._last_emit is not None and 0 <= t - self._last_emit < self.settings.interval_seconds - 1e-3:
            return
        self._last_emit = t
        self.last_fix = fix
        try:
            self._sink(fix)
        except Exception:  # a full disk must not kill the GPS thread; the next fix tries again
            log.exception("GPS fix at %s could not be stored", fix.time.isoformat())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._run_once()
            except (GpsSourceError, OSError) as exc:
                self.errors += 1
                self.last_error = str(exc)
                log.warning("%s: %s; retrying in %.0f s", self.name, exc, self.settings.reconnect_seconds)
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s feed failed; retrying in %.0f s", self.name, self.settings.reconnect_seconds)
            self._stop.wait(self.settings.reconnect_seconds)

    def _run_once(self) -> None:
        raise NotImplementedError


class SimulatedGps(GpsFeed):
    """A car driving ``settings.route`` in real time (demo, tests)."""

    name = "simulated-gps"

    def __init__(self, settings: GpsSettings, sink: FixSink, start: datetime | None = None) -> None:
        super().__init__(settings, sink)
        self.route = route(settings.route, speed_mps=settings.speed_mps, start=start)

    def _run_once(self) -> None:
        period = self.settings.interval_seconds
        # Fixes on whole multiples of the interval: a test can tell exactly which instants must arrive.
        next_t = (time.time() // period + 1) * period
        while not self._stop.wait(max(0.0, next_t - time.time())):
            fix = self.route.fix_at(datetime.fromtimestamp(next_t, UTC))
            self.stats.sentences += 1
            self.stats.fixes += 1
            self._emit(fix)
            next_t += period


def _lines(read: Callable[[], bytes], stop: threading.Event) -> Iterator[bytes]:
    """Split a byte stream into lines; an over-long line without an end is dropped as noise."""
    buf = b""
    while not stop.is_set():
        chunk = read()
        if chunk is None:
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line
        if len(buf) > MAX_LINE:
            yield buf[:MAX_LINE]
            buf = b""


class NmeaGps(GpsFeed):
    """A serial NMEA receiver (``/dev/ttyUSB0`` at ``baudrate``), or an NMEA stream at ``tcp://host:port``."""

    name = "nmea-gps"

    def __init__(self, settings: GpsSettings, sink: FixSink) -> None:
        super().__init__(settings, sink)
        self.parser = NmeaParser()
        self.stats = self.parser.stats

    def _run_once(self) -> None:
        device = self.settings.device
        if device.startswith("tcp://"):
            host, _, port = device[len("tcp://"):].rpartition(":")
            try:
                sock = socket.create_connection((host, int(port)), timeout=5)
            except (OSError, ValueError) as exc:
                raise GpsSourceError(f"cannot connect to NMEA stream {device}: {exc}") from exc
            with contextlib.closing(sock):
                sock.settimeout(READ_POLL_S)
                log.info("reading NMEA from %s", device)
                self._consume(_lines(lambda: _recv(sock, device), self._stop))
            return
        try:
            fd = os.open(device, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise GpsSourceError(f"cannot open GPS receiver {device}: {exc.strerror}") from exc
        try:
            if os.isatty(fd):
                tty.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would discard what already arrived
                attrs = termios.tcgetattr(fd)
                attrs[4] = attrs[5] = _BAUD[self.settings.baudrate]
                termios.tcsetattr(fd, termios.TCSANOW, attrs)
            log.info("reading NMEA from %s at %d baud", device, self.settings.baudrate)
            self._consume(_lines(lambda: _read_fd(fd, device), self._stop))
        finally:
            os.close(fd)

    def _consume(self, lines: Iterator[bytes]) -> None:
        for line in lines:
            fix = self.parser.feed(line)
            if fix is not None:
                self._emit(fix)


def _read_fd(fd: int, device: str) -> bytes:
    ready, _, _ = select.select([fd], [], [], READ_POLL_S)
    if not ready:
        return b""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return b""
    except OSError as exc:
        raise GpsSourceError(f"GPS receiver {device} read failed: {exc.strerror}") from exc
    if not data:
        raise GpsSourceError(f"GPS receiver {device} was closed (unplugged?)")
    return data


def _recv(sock: socket.socket, what: str) -> bytes:
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return b""
    if not data:
        raise GpsSourceError(f"{what} closed the connection")
    return data


class GpsdGps(GpsFeed):
    """A gpsd daemon's JSON watch stream: TPV reports with mode 2 (2D) or 3 (3D) are fixes."""

    name = "gpsd"

    def _run_once(self) -> None:
        where = f"gpsd at {self.settings.gpsd_host}:{self.settings.gpsd_port}"
        try:
            sock = socket.create_connection((self.settings.gpsd_host, self.settings.gpsd_port), timeout=5)
        except OSError as exc:
            raise GpsSourceError(f"cannot connect to {where}: {exc}") from exc
        with contextlib.closing(sock):
            sock.sendall(b'?WATCH={"enable":true,"json":true};\n')
            sock.settimeout(READ_POLL_S)
            log.info("watching %s", where)
            last: datetime | None = None
            for line in _lines(lambda: _recv(sock, where), self._stop):
                self.stats.sentences += 1
                try:
                    report = json.loads(line)
                except ValueError:
                    self.stats.garbage += 1
                    continue
                if not isinstance(report, dict) or report.get("class") != "TPV":
                    self.stats.ignored += 1
                    continue
                fix = self._tpv(report)
                if fix is None:
                    continue
                if last is not None and fix.time <= last:
                    self.stats.merged += 1  # gpsd repeats a TPV per sentence of the same epoch
                    continue
                last = fix.time
                self.stats.fixes += 1
                self._emit(fix)

    def _tpv(self, r: dict[str, Any]) -> GpsFix | None:
        if int(r.get("mode", 0)) < 2 or "lat" not in r or "lon" not in r or "time" not in r:
            self.stats.no_fix += 1
            return None
        try:
            when = datetime.fromisoformat(str(r["time"]).replace("Z", "+00:00"))
            lat, lon = float(r["lat"]), float(r["lon"])
        except (TypeError, ValueError):
            self.stats.garbage += 1
            return None
        if lat == 0 and lon == 0:
            self.stats.no_fix += 1
            return None
        track = r.get("track")
        speed = r.get("speed")
        return GpsFix(lat=lat, lon=lon, time=when.astimezone(UTC),
                      heading=None if track is None else float(track) % 360,
                      speed=None if speed is None else float(speed))


def make_gps_feed(settings: GpsSettings, sink: FixSink) -> GpsFeed | None:
    """The feed ``settings.source`` names, not started; None for ``source = "none"``."""
    if settings.source == "simulated":
        return SimulatedGps(settings, sink)
    if settings.source == "nmea":
        return NmeaGps(settings, sink)
    if settings.source == "gpsd":
        return GpsdGps(settings, sink)
    return None
