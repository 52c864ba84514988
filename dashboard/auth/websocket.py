"""The handshake check shared by the wall's websockets (push, live video): same site, and a logged-in viewer.

Browsers send a host's cookies to every port of it, so the handshake carries the wall's login session; a page of
another site would otherwise ride on those cookies (cross-site websocket hijacking), hence the Origin check.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from websockets.asyncio.server import ServerConnection

from dashboard.auth import policy

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403  # the handshake came from a page of another site
CLOSE_LOGIN = 4401  # no valid login in the handshake's cookies: the page reloads and lands on /login

V = TypeVar("V")


async def admitted(ws: ServerConnection, authorize: Callable[[str | None], V | None] | None, anyone: V,
                   what: str) -> V | None:
    """The viewer ``authorize(cookie header)`` names (``anyone`` when there is no check), or None after closing
    the connection with the reason (4403 another site, 4401 not logged in)."""
    headers = ws.request.headers if ws.request is not None else None
    origin = headers.get("Origin") if headers is not None else None
    if not policy.origin_ok(origin, None, headers.get("Host", "") if headers is not None else "", any_port=True):
        log.warning("%s client %s refused: origin %r is not this host", what, ws.remote_address, origin)
        await ws.close(CLOSE_FORBIDDEN, "cross-site websocket refused")
        return None
    if authorize is None:
        return anyone
    cookie = headers.get("Cookie") if headers is not None else None
    try:
        found = await asyncio.to_thread(authorize, cookie)
    except Exception:  # noqa: BLE001 - a failing check refuses the viewer, never crashes the server
        log.exception("%s client %s: login check failed", what, ws.remote_address)
        found = None
    if found is None:
        await ws.close(CLOSE_LOGIN, "log in on the wall first")
    return found
