"""Is a camera's server listening? A bare TCP connect, so a reader can retry the moment its source returns.

A camera server that died (or a host that restarts) refuses TCP connections: the kernel answers at once, so
probing its port a few times a second costs next to nothing, while opening the stream with FFmpeg every
few seconds would leave the camera dark for up to the reconnect backoff after the server is back. The reader
probes while it waits between attempts and opens the stream as soon as a port that was closed accepts again.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PROBE_EVERY_S = 0.25  # while a server refuses connections, its port is probed this often
PROBE_TIMEOUT_S = 1.0  # a probe that gets no answer this fast counts as "not there": the next one follows

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


def source_address(url: str) -> tuple[str, int] | None:
    """(host, TCP port) of a network stream URL; None for files, UDP-only or unparsable sources (no probing)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        return None
    if not parts.hostname or not port:
        return None
    return parts.hostname, port


def listening(address: tuple[str, int], timeout: float) -> bool:
    """True if a TCP connection to ``address`` opens within ``timeout`` seconds (closed again at once)."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:  # refused, unreachable, timed out, name not resolved: not there (yet)
        return False


def await_source(url: str, delay: float, stop: threading.Event) -> bool:
    """Wait ``delay`` s (a reconnect backoff) probing the URL's port; True, at once, if a port that refused
    connections accepts again: the server is back, so open the stream now instead of after the rest of the
    backoff. A port that listens from the start (the server is up, the stream failed) is not hammered: the
    backoff runs its course. False after the delay or when ``stop`` is set."""
    address = source_address(url)
    deadline = time.monotonic() + delay
    seen_down = False
    while address is not None and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if not listening(address, min(PROBE_TIMEOUT_S, left)):
            seen_down = True
        elif seen_down:
            return True
        else:
            break
        stop.wait(min(PROBE_EVERY_S, max(0.0, deadline - time.monotonic())))
    stop.wait(max(0.0, deadline - time.monotonic()))
    return False
