"""The one thread base: a part's thread carries its name, ``stop`` says whether the loop has ended, parts may share a
stop event, and a line pump hands on a child's output."""
from __future__ import annotations

import logging
import subprocess
import sys
import threading

import pytest

from gridwatch.loop import LinePump, ThreadPart


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


def test_stop_with_no_timeout_only_asks(caplog: pytest.LogCaptureFixture) -> None:
    """What an event loop calls: it neither waits nor warns."""
    part = _Held().start()
    assert part.inside.wait(10)
    with caplog.at_level(logging.WARNING, logger="gridwatch.loop"):
        assert part.stop(timeout=0) is False
    assert caplog.text == ""
    part.release.set()


def test_a_shared_stop_event_ends_both_parts() -> None:
    first = _Held()
    second = _Waiting(first)
    first.start()
    second.start()
    first.release.set()
    assert first.stop(timeout=10) is True
    assert second.ended.wait(10)
    assert second.stop(timeout=10) is True


class _Waiting(ThreadPart):
    """Waits on the stop event it shares with ``owner``."""

    def __init__(self, owner: ThreadPart) -> None:
        super().__init__("waiting-part", stop_event=owner._stop)
        self.ended = threading.Event()

    def _run(self) -> None:
        self._stop.wait(30)
        self.ended.set()


def test_a_line_pump_hands_on_every_line_until_the_output_closes() -> None:
    child = "import sys; sys.stdout.buffer.write(b'one  \\n\\ntw\\xc3\\xb6\\nbad \\xff\\n')"
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    lines: list[str] = []
    pump = LinePump("pump-test", proc.stdout, lines.append).start()
    assert pump.wait(10) and proc.wait(10) == 0
    assert lines == ["one", "", "twö", "bad \ufffd"]  # UTF-8; what is not is replaced, never raised
    assert pump.stop(timeout=1) is True
    proc.stdout.close()
