"""A URL's origin (scheme, host, port), to decide whether two URLs name the same server."""
from __future__ import annotations

from urllib.parse import urlsplit

# The port a URL without one means, so rtsp://h/x and rtsp://h:554/x count as the same server.
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443}

Origin = tuple[str, str, int | None]


def origin(url: str) -> Origin:
    """``("https", "car-7.example", 443)``; a port that is not a number gives -1 (never equal to a real one)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "", "", -1
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)
