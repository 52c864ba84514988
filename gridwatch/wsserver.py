"""A websockets server on its own asyncio loop in a daemon thread, for the parts that are otherwise threaded.

``start()`` returns once the server listens (or raises the part's error naming the address it could not take),
``stop()`` closes every connection and ends the loop from any thread. A part writes ``_handle(connection)`` and,
where it needs them, the hooks around the listening server: ``_setup`` / ``_teardown`` (resources of the loop,
e.g. an async Redis client), ``_on_listening`` (before ``start()`` returns) and ``_on_stopping``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve

from gridwatch.loop import ThreadPart

log = logging.getLogger(__name__)

ANY_HOST = ("0.0.0.0", "", "::")


def page_host(host: str) -> str:
    """A listen address as a page's websocket URL names it: a wildcard stays 0.0.0.0 (the page puts in the host name
    it reached the wall by), an IPv6 address goes in brackets."""
    shown = "0.0.0.0" if host in ANY_HOST else host
    return f"[{shown}]" if ":" in shown else shown


class WebsocketServerThread(ThreadPart):
    """``what`` names the part in messages; ``error`` is the exception type its callers catch.

    The loop ends on the asyncio loop's own ``_stopping`` event (set from ``stop()``), not on ``_stop``.
    """

    def __init__(
        self, host: str, port: int, *, what: str, thread_name: str, error: type[Exception] = RuntimeError,
        **serve_options: Any,
    ) -> None:
        super().__init__(thread_name)
        self._host = host
        self._requested_port = port
        self._what = what
        self._error_type = error
        self._serve_options = {"close_timeout": 2, "ping_interval": 20, "ping_timeout": 20, **serve_options}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise self._error_type(f"{self._what} is not started")
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def loopback_host(self) -> str:
        """The host a client on this machine connects to (a wildcard listen address is not one)."""
        return "127.0.0.1" if self._host in ANY_HOST else self._host

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:  # the part's own error type: what its callers catch
            raise self._error_type(f"{self._what} already started")
        self._ready.clear()
        self._error = None
        self._port = None
        super().start()
        if not self._ready.wait(timeout):
            raise self._error_type(f"{self._what} did not start within {timeout:.0f} s")
        if self._error is not None:
            super().stop(timeout)  # the loop has ended (or is ending) on the error
            raise self._error_type(
                f"{self._what} could not listen on {self._host}:{self._requested_port}: {self._error}"
            ) from self._error
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        loop, stopping = self._loop, self._stopping
        if self._thread is None:
            return True
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just ended on its own
                loop.call_soon_threadsafe(stopping.set)
        ended = super().stop(timeout)
        self._port = None
        return ended

    def _left_busy(self, timeout: float) -> None:
        log.warning("%s thread did not end within %.0f s", self._what, timeout)

    # --- inside the loop thread -------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    async def _setup(self) -> None:
        """Before the server listens."""

    async def _on_listening(self) -> None:
        """Once it listens, before ``start()`` returns."""

    async def _on_stopping(self) -> None:
        """When ``stop()`` was asked, before the connections close."""

    async def _teardown(self) -> None:
        """After the server closed (also when it could not start)."""

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to start() so the caller sees why
            self._error = exc
            self._ready.set()
            if self._port is not None:
                log.exception("%s stopped on an error", self._what)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self._setup()
        try:
            async with serve(self._handle, self._host, self._requested_port, **self._serve_options) as server:
                self._port = _bound_port(server, self._what, self._error_type)
                await self._on_listening()
                self._ready.set()
                await self._stopping.wait()
                await self._on_stopping()
                server.close()  # closes every connection (code 1001 going away)
                await server.wait_closed()
        finally:
            await self._teardown()


def _bound_port(server: Server, what: str, error: type[Exception]) -> int:
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise error(f"{what} has no listening socket")
