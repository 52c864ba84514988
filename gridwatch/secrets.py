"""Secrets inside URLs: a password in an RTSP or Redis URL never reaches a log, a repr or the browser."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import Secret


def mask_url(url: str) -> str:
    """``rtsp://user:pw@host/x`` -> ``rtsp://user:***@host/x``; URLs without a password are unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class SecretUrl(Secret[str]):
    """A URL whose password is masked in str(), repr() and JSON dumps; ``.get_secret_value()`` reveals it."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())

    @property
    def masked(self) -> str:
        return self._display()
