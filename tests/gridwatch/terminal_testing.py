"""A command run with its standard error on a terminal, as when an admin types it (progress bars draw there)."""
from __future__ import annotations

import os
import pty
import subprocess
import threading


def run_on_a_terminal(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``args`` with stderr on a pseudo-terminal; its stdout and what the terminal showed.

    The terminal is read while the command runs: a pty's buffer is a few KiB, and a command whose progress output
    filled it would block on its own writes until the test's timeout."""
    primary, secondary = pty.openpty()
    shown: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the command's side is closed and everything was read
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=pump, name="terminal-reader", daemon=True)
    reader.start()
    try:
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=secondary, text=True, timeout=timeout)
    finally:
        os.close(secondary)
        reader.join(10)
        os.close(primary)
    return done, b"".join(shown).decode(errors="replace")
