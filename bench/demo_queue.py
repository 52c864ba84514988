"""What the demo puts on the wall: ``gridwatch run`` for N minutes, then its queue (cases, sightings, passes).

    .venv/bin/python -m bench.demo_queue --minutes 10 [--lap-seconds 150]

Starts ``gridwatch run`` as a user would (embedded Redis, the demo RTSP server and car, SQLite) in a fresh data
folder on free ports, waits until the wall is up, lets it run, stops it and prints the alerts and every case with
its category, place, sightings and passes (one JSON object). Timing starts when the wall is up.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gridwatch.redis_server import free_port

GRIDWATCH = Path(sys.executable).with_name("gridwatch")


def run_demo(minutes: float, lap_seconds: float | None, data: Path) -> dict[str, Any]:
    cfg = data.parent / "gridwatch.toml"
    lap = f"lap_seconds = {lap_seconds}\n" if lap_seconds else ""
    cfg.write_text(f'data_dir = "{data}"\n[ingest]\ntelemetry_ws_port = 0\n[dashboard]\nport = {free_port()}\n'
                   f"ws_port = 0\n[demo]\nrtsp_port = 0\n{lap}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.setdefault("GRIDWATCH_ADMIN_PASSWORD", "bench-admin-password")
    proc = subprocess.Popen([str(GRIDWATCH), "--config", str(cfg), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Open the wall:" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(600):
            raise SystemExit("gridwatch run did not come up within 10 minutes")
        time.sleep(minutes * 60)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return queue_of(data / "gridwatch.db", minutes)


def queue_of(db: Path, minutes: float) -> dict[str, Any]:
    from alerts.casebook import CaseBook, CaseFilter
    from alerts.db import make_engine
    from alerts.repository import Repository
    from geo.routing import GridRouter

    engine = make_engine(f"sqlite:///{db}")
    try:
        repo = Repository(engine)
        cases = CaseBook(engine, GridRouter(repo.list_grids())).queue(CaseFilter(limit=1000))
        return {
            "minutes": minutes,
            "alerts": repo.count_alerts(),
            "cases": len(cases),
            "queue": [{"category": c.category, "grid": c.grid_code, "lat": c.lat, "lon": c.lon,
                       "sightings": c.sightings, "passes": c.passes,
                       "first_seen": c.first_seen.isoformat(), "last_seen": c.last_seen.isoformat()}
                      for c in cases],
        }
    finally:
        engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--lap-seconds", type=float, default=None, help="demo.lap_seconds (default: the setting's)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridwatch-demo-queue-") as tmp:
        result = run_demo(args.minutes, args.lap_seconds, Path(tmp) / "data")
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
