"""One background thread with start / stop / running, for every long-running part that loops on its own.

``ThreadPart`` owns the thread and its stop event; a part writes ``_run`` (checking ``_stop``) and may extend
``stop`` to hand things back once its loop has ended (``stop`` returns whether it did; ``_left_busy`` says it
when not, in the part's own words if it overrides it). ``Periodic`` is the common case: ``tick()`` every
``every_seconds``, where a failing tick is logged and retried at the next interval instead of killing the part.
``LinePump`` hands on each line a child process writes, until its output closes.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import IO, Self

log = logging.getLogger(__name__)


class ThreadPart:
    """A named daemon thread running ``_run`` until ``stop()``; ``start()`` returns the part for chaining."""

    def __init__(self, thread_name: str, stop_event: threading.Event | None = None) -> None:
        """``stop_event``: one shared with the part this one helps (both end together on either's ``stop``)."""
        self.thread_name = thread_name
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{self.thread_name} already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` s; a loop still busy is left to finish (and said).

        Returns whether the loop has ended, so a part hands back what its loop uses only once it is free.
        ``timeout=0`` only asks, without waiting or saying anything (a caller that must not block, such as an
        event loop).
        """
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        if timeout <= 0:
            return not thread.is_alive()
        thread.join(timeout)
        if thread.is_alive():
            self._left_busy(timeout)
            return False
        return True

    def _left_busy(self, timeout: float) -> None:
        """Said when the loop outlives ``stop``'s wait; a part may say it in its own words."""
        log.warning("%s still busy %.1f s after stop; left to finish", self.thread_name, timeout)

    def _run(self) -> None:
        raise NotImplementedError


class Periodic(ThreadPart):
    """``tick()`` now and then every ``every_seconds`` until stopped."""

    def __init__(self, thread_name: str, every_seconds: float) -> None:
        super().__init__(thread_name)
        self.every_seconds = every_seconds

    def tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one failed round must not end a part that runs for months
                log.exception("%s: round failed; retried in %.1f s", self.thread_name, self.every_seconds)
            self._stop.wait(self.every_seconds)


class LinePump(ThreadPart):
    """Hands each line of a child process's output (decoded, trailing space stripped) to ``on_line``.

    It ends when the output closes, that is when the process has ended: ``stop`` only waits for that (the
    stop event cannot interrupt a blocking read), and ``wait`` lets the last lines of an exited process arrive.
    """

    def __init__(self, thread_name: str, stream: IO[bytes], on_line: Callable[[str], object]) -> None:
        super().__init__(thread_name)
        self._stream = stream
        self._on_line = on_line

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the output to close, keeping the pump for a later ``stop``."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _left_busy(self, timeout: float) -> None:
        """Silent: an output still open after its process ended is a grandchild's; the daemon thread ends with it."""

    def _run(self) -> None:
        for raw in self._stream:
            self._on_line(raw.decode("utf-8", errors="replace").rstrip())
