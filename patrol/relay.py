"""A small real RTSP relay that accepts publishing, for tests and a laptop demo (production uses MediaMTX).

Debian's ``librtsp-server-perl`` (RTSP::Server) takes a publisher's ANNOUNCE/RECORD on one port and serves
readers on another. It only takes RTP over UDP, so publishers and readers here use ``rtsp_transport=udp``.
The package ships the library only; the few lines that run it are below, started with ``/usr/bin/perl``
so no system service is involved.

    with PerlRtspRelay() as relay:
        publish to f"{relay.publish_url}/car-1/front"; read from relay.read_url("car-1/front")
"""
from __future__ import annotations

import collections
import logging
import random
import signal
import socket
import subprocess
import time
from types import TracebackType

from gridwatch.loop import LinePump
from gridwatch.redis_server import free_port

log = logging.getLogger(__name__)

PERL = "/usr/bin/perl"
RTP_PORTS = 40  # UDP ports kept free above the RTP start port (2 per published stream, 2 per reader)

_SCRIPT = r"""
use strict; use warnings;
use AnyEvent; use RTSP::Server;
$| = 1;
my ($host, $read_port, $publish_port, $rtp_port, $level) = @ARGV;
# RTSP::Server's housekeeping resets the next RTP port to this package global (20000) whenever the last mount goes:
# without this, every relay on the machine binds 20000+ after its first publisher left, and a second one then cannot
# start a publisher's RTP listeners (and keeps its mount, so the car is refused with 403 from then on).
$RTSP::Server::RTP_START_PORT = $rtp_port;
my $srv = RTSP::Server->new(client_listen_port => $read_port, source_listen_port => $publish_port,
    rtp_start_port => $rtp_port, client_listen_address => $host, source_listen_address => $host,
    log_level => $level);
$srv->listen;
my $cv = AnyEvent->condvar;
my $t = AnyEvent->signal(signal => 'TERM', cb => sub { $cv->send });
my $i = AnyEvent->signal(signal => 'INT', cb => sub { $cv->send });
$cv->recv;
"""


class RelayError(RuntimeError):
    """The relay could not start (Perl or RTSP::Server missing, port taken); carries its last log lines."""


def _udp_block_free(start: int, n: int) -> bool:
    socks = []
    try:
        for port in range(start, start + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_rtp_base() -> int:
    for _ in range(50):
        base = random.randrange(30000, 60000 - RTP_PORTS, 2)
        if _udp_block_free(base, RTP_PORTS):
            return base
    raise RelayError(f"no block of {RTP_PORTS} free UDP ports found for RTP")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class PerlRtspRelay:
    """Ports are kept across ``stop()``/``start()``, so a restart is a link that went down and came back."""

    def __init__(self, publish_port: int | None = None, read_port: int | None = None, rtp_port: int | None = None,
                 host: str = "127.0.0.1", log_level: int = 2) -> None:
        self.host = host
        self.publish_port = publish_port or free_port()
        self.read_port = read_port or free_port()
        self.rtp_port = rtp_port or free_rtp_base()
        self.log_level = log_level
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: LinePump | None = None

    @property
    def publish_url(self) -> str:
        return f"rtsp://{self.host}:{self.publish_port}"

    def read_url(self, path: str) -> str:
        return f"rtsp://{self.host}:{self.read_port}/{path.lstrip('/')}"

    @property
    def log_lines(self) -> list[str]:
        return list(self._lines)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> PerlRtspRelay:
        if self.running:
            raise RelayError("relay already running")
        args = [PERL, "-e", _SCRIPT, self.host, str(self.read_port), str(self.publish_port), str(self.rtp_port),
                str(self.log_level)]
        try:
            self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise RelayError(f"cannot run {PERL}: {exc}") from exc
        assert self._proc.stdout is not None
        self._reader = LinePump("rtsp-relay-log", self._proc.stdout, self._on_line).start()
        deadline = time.monotonic() + timeout
        while not (_listening(self.host, self.publish_port) and _listening(self.host, self.read_port)):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RelayError(f"RTSP relay did not start on {self.host}:{self.publish_port}/{self.read_port}; "
                                 f"last output: {' | '.join(self.log_lines[-5:]) or 'none'}")
            time.sleep(0.05)
        log.info("RTSP relay: publish %s, read rtsp://%s:%d", self.publish_url, self.host, self.read_port)
        return self

    def _on_line(self, line: str) -> None:
        self._lines.append(line)
        log.debug("relay: %s", line)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._reader is not None:
            self._reader.stop(timeout)
            self._reader = None
        log.info("RTSP relay on %s stopped", self.publish_url)

    def __enter__(self) -> PerlRtspRelay:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
