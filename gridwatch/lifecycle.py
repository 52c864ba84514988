"""Ordered start and stop of long-running parts (like Starlette's lifespan): last started, first stopped; and the
stop event a process's main thread waits on, set by SIGINT or SIGTERM."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Lifecycle:
    """Register a stop function right after each part starts; ``close()`` stops them in reverse order."""

    _stops: list[tuple[str, Callable[[], object]]] = field(default_factory=list)

    def started(self, name: str, stop: Callable[[], object]) -> None:
        log.info("started %s", name)
        self._stops.append((name, stop))

    def close(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
                log.info("stopped %s", name)
            except Exception:  # one part failing to stop must not leave the others running
                log.exception("error while stopping %s", name)

    def __enter__(self) -> Lifecycle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_on_signals(logger: logging.Logger) -> threading.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM (a service manager), each said on ``logger``; call it from the
    main thread (only it may install signal handlers)."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logger.info("signal %d received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop
