"""``gridwatch run`` started as a user starts it, for the end-to-end tests: one place for the process, its log and
the settings that let the demo's park pass raise alerts on a loaded CI machine."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

GRIDWATCH = Path(sys.executable).with_name("gridwatch")

# Settings sections both demo tests share (the rest of each test's TOML is its own).
LOADED_MACHINE_VISION = """
[vision]
# Full-size frames only: stacked ones lose the park's small sitters (BENCHMARKS.md), and the car passes them
# 8 s a lap; these tests are about the run, the lap and its cases, not stacking.
max_frames_per_input = 1

[rules]
# The car is at the park 8 s a lap: at 5 fps that is 40 frames, but a loaded CI machine gave vision ~1 fps
# (8 frames, no alert in 6 laps). Two sitting frames (not 5, posture in 2 not 3) keep a 4x margin; these tests
# are about the run, not the rule.
patrol_min_frames = 2
posture_min_frames = 2
"""


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str]
    data_dir: Path


def start_gridwatch(cfg: Path, data_dir: Path, admin_password: str, ready_timeout: float) -> Running:
    """``gridwatch --config cfg run`` in its own session, once it prints the wall's URL (else the test fails
    with the log's tail). ``ready_timeout``: the first start encodes the demo's clips (~20 s on an idle machine)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["GRIDWATCH_ADMIN_PASSWORD"] = admin_password  # the first start creates "admin" with it
    proc = subprocess.Popen(
        [str(GRIDWATCH), "--config", str(cfg), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Open the wall:" in line:
                found.put(line.rsplit(" ", 1)[-1].strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = found.get(timeout=ready_timeout)
    except queue.Empty:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("gridwatch run never printed the wall URL:\n" + "".join(lines[-40:]))
    return Running(proc, url.rstrip("/"), lines, data_dir)


def stop_gridwatch(running: Running, grace: float = 30) -> None:
    """SIGTERM to the whole session (the command and its private services), SIGKILL after ``grace`` s."""
    proc = running.proc
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
