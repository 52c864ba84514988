"""Is a camera's server listening? A bare TCP connect, so a reader can retry the moment its source returns.

A camera server that died (or a host that restarts) refuses TCP connections: the kernel answers at once, so
probing its port a few times a second costs next to nothing, while opening the stream with FFmpeg every
few seconds would leave the camera dark for up to the reconnect backoff after the server is back. The reader
probes while it waits between attempts and opens the stream as soon as a port that was closed accepts again.
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

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
