"""Recovery benchmark: how soon a camera is ONLINE again after its RTSP server comes back, on a loaded machine.

    .venv/bin/python -m bench.recovery_bench                  # 20 kill/restart cycles, prints a Markdown report
    .venv/bin/python -m bench.recovery_bench --write          # ... and puts it into BENCHMARKS.md

One real RTSP server (``demo.server``, the Town Centre clip as 720p25 H.264) feeds the camera under test
(a ``CameraReader`` with the default ingest settings).
Each cycle SIGKILLs the server (a crash: no RTSP teardown), leaves it down for an outage (cycling through
``--outages``, so the reader's backoff has grown to different points), starts it again on the same port and
times the way back:

* ``back -> ONLINE``: from the moment the restarted server answers an RTSP DESCRIBE (the source has returned)
  to the reader's first decoded picture (its state turns ONLINE);
* ``spawn -> ONLINE``: from the server's spawn (includes the server's own start-up).

The machine is loaded meanwhile: ``--load`` busy-looping processes (default: one per core) and ``--bystanders``
more cameras decoding every frame of a second server. The wall's view of the camera during each outage is
recorded too (the statuses the reader published: they must be OFFLINE/STALLED, never ONLINE).
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from demo.server import RtspTestServer
from gridwatch.redis_server import free_port
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import CameraState, CameraStatus
from ingest import probe as probe_module
from ingest.probe import source_address
from ingest.reader import CameraReader

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Camera recovery (issue 15)"
CLIP = REPO.parent / "shared" / "video" / "towncentre_street_pedestrians_1080p.mp4"
ONLINE_LIMIT_S = 60.0  # a cycle that takes longer than this is reported as failed

log = logging.getLogger("bench.recovery")


@dataclass(frozen=True)
class Result:
    cycles: int
    failed: int
    outages: list[float]
    load: int
    bystanders: int
    back: list[float]  # server answers -> ONLINE, per cycle
    spawn: list[float]  # server spawned -> ONLINE, per cycle
    outage_states: list[str]
    ingest: IngestSettings
    load_average: tuple[float, float]  # the machine's 1-minute load average at the start and at the end


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def busy_loops(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]


def camera(url: str, camera_id: str) -> CameraSettings:
    return CameraSettings.model_validate({"id": camera_id, "name": camera_id, "url": url})


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run(cycles: int, outages: list[float], load: int, bystanders: int, probe: bool = True) -> Result:
    ingest = IngestSettings()  # the defaults a deployment runs with
    load_before = os.getloadavg()[0]
    # Without the port probe the reader waits out its backoff, as before issue 15 (the comparison row).
    probe_module.source_address = source_address if probe else (lambda url: None)
    port = free_port()
    others = RtspTestServer(CLIP).start()
    server = RtspTestServer(CLIP, port=port).start()
    statuses: list[tuple[float, CameraStatus]] = []
    lock = threading.Lock()

    def on_state(state: CameraState) -> None:
        with lock:
            statuses.append((time.monotonic(), state.status))

    victim = CameraReader(camera(server.url, "victim"), ingest, on_state=on_state).start()
    watchers = [CameraReader(camera(others.url, f"bystander-{i}"), ingest).start() for i in range(bystanders)]
    spinners = busy_loops(load)
    back_online: list[float] = []
    spawn_online: list[float] = []
    outage_seen: set[str] = set()
    failed = 0
    try:
        if not wait_for(lambda: victim.state().status is CameraStatus.ONLINE, ONLINE_LIMIT_S):
            raise SystemExit("the camera never came ONLINE")
        for cycle in range(cycles):
            outage = outages[cycle % len(outages)]
            assert server.pid is not None
            os.kill(server.pid, signal.SIGKILL)
            killed = time.monotonic()
            server.stop()
            time.sleep(outage)
            with lock:
                after = [s for t, s in statuses if t > killed]
                # From the reader's first word of the crash on (a loaded machine may take a moment to notice).
                first = next((i for i, s in enumerate(after) if s is not CameraStatus.ONLINE), len(after))
                outage_seen |= {s.value for s in after[first:]}
            spawned = time.monotonic()
            server = RtspTestServer(CLIP, port=port).start()
            back = time.monotonic()
            ok = wait_for(lambda: victim.state().status is CameraStatus.ONLINE, ONLINE_LIMIT_S)
            online = time.monotonic()
            if not ok:
                failed += 1
                log.warning("cycle %d: not ONLINE within %.0f s", cycle + 1, ONLINE_LIMIT_S)
                continue
            back_online.append(online - back)
            spawn_online.append(online - spawned)
            log.info("cycle %2d: outage %4.1f s, back -> ONLINE %.2f s, spawn -> ONLINE %.2f s",
                     cycle + 1, outage, online - back, online - spawned)
            time.sleep(1.0)  # a picture or two before the next crash
    finally:
        for p in spinners:
            p.kill()
            p.wait()
        victim.stop()
        for w in watchers:
            w.stop()
        server.stop()
        others.stop()
    probe_module.source_address = source_address
    return Result(cycles, failed, outages, load, bystanders, back_online, spawn_online, sorted(outage_seen), ingest,
                  (load_before, os.getloadavg()[0]))


def report(r: Result, command: str, before: Result | None = None) -> str:
    ingest = r.ingest

    def row(name: str, values: list[float]) -> str:
        if not values:
            return f"| {name} | - | - | - | - |"
        return (f"| {name} | {statistics.median(values):.2f} | {percentile(values, 95):.2f} | {max(values):.2f} "
                f"| {min(values):.2f} |")

    return "\n".join([
        SECTION,
        "",
        f"`{command}` — {r.cycles} SIGKILL/restart cycles of the camera's RTSP server (outages of "
        f"{', '.join(f'{o:g}' for o in r.outages)} s in turn), the camera on the default ingest settings "
        f"(backoff cap {ingest.reconnect_max_seconds:g} s, open timeout {ingest.open_timeout_seconds:g} s, "
        f"stall {ingest.stall_seconds:g} s); the machine ({os.cpu_count()} cores) loaded by {r.load} busy loops "
        f"and {r.bystanders} other cameras decoding every frame (1-minute load average {r.load_average[0]:.1f} at "
        f"the start, {r.load_average[1]:.1f} at the end"
        + (f"; before: {before.load_average[0]:.1f} / {before.load_average[1]:.1f}" if before is not None else "")
        + "). Seconds:",
        "",
        "| way back | median | p95 | worst | best |",
        "| --- | --- | --- | --- | --- |",
        row("server answers -> camera ONLINE", r.back),
        row("server spawned -> camera ONLINE", r.spawn),
        *([row("before (backoff only, no port probe): server answers -> ONLINE", before.back),
           row("before (backoff only, no port probe): server spawned -> ONLINE", before.spawn)]
          if before is not None else []),
        "",
        f"Cycles that failed to come back within {ONLINE_LIMIT_S:.0f} s: {r.failed}"
        + (f" (before: {before.failed})" if before is not None else "")
        + f". Statuses the camera published during the outages (what the wall showed): "
        f"{', '.join(r.outage_states) or 'none'}.",
        "",
    ])


def write_section(text: str) -> None:
    path = REPO / "BENCHMARKS.md"
    doc = path.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--outages", default="1,3,6,12,20", help="outage lengths in seconds, used in turn")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy-looping processes")
    parser.add_argument("--bystanders", type=int, default=2, help="other cameras decoding meanwhile")
    parser.add_argument("--compare", action="store_true",
                        help="first run the same cycles without the port probe (the reader before issue 15)")
    parser.add_argument("--write", action="store_true", help="put the report into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ingest").setLevel(logging.WARNING)
    outages = [float(o) for o in args.outages.split(",")]
    before = run(args.cycles, outages, args.load, args.bystanders, probe=False) if args.compare else None
    result = run(args.cycles, outages, args.load, args.bystanders)
    text = report(result, "python -m bench.recovery_bench " + " ".join(sys.argv[1:]), before)
    sys.stdout.write(text + "\n")
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
