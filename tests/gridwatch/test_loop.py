"""The one thread base: a part's thread carries its name, and ``stop`` says whether the loop has ended."""
from __future__ import annotations

import logging
import threading

import pytest

from gridwatch.loop import ThreadPart


class _Held(ThreadPart):
    """A loop that stays in one step until ``release`` is set (a batch that outlives stop's wait)."""

    def __init__(self) -> None:
        super().__init__("held-part")
        self.inside = threading.Event()
        self.release = threading.Event()
        self.seen_name: str | None = None

    def _run(self) -> None:
        self.seen_name = threading.current_thread().name
        self.inside.set()
        self.release.wait(30)


def test_stop_of_an_ended_loop_is_true_and_the_thread_has_the_parts_name() -> None:
    part = _Held().start()
    assert part.inside.wait(10)
    assert part.seen_name == "held-part" and part.running
    part.release.set()
    assert part.stop(timeout=10) is True
    assert not part.running
    assert part.stop() is True  # a second stop, and a stop of a part never started, have nothing to wait for


def test_stop_of_a_busy_loop_is_false_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    part = _Held().start()
    assert part.inside.wait(10)
    with caplog.at_level(logging.WARNING, logger="gridwatch.loop"):
        assert part.stop(timeout=0.1) is False  # held by ``release``: it cannot have ended
    assert "held-part still busy" in caplog.text
    part.release.set()


def test_a_started_part_refuses_a_second_start() -> None:
    part = _Held().start()
    try:
        with pytest.raises(RuntimeError, match="held-part already started"):
            part.start()
    finally:
        part.release.set()
        part.stop(timeout=10)
