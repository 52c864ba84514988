"""Fleet costs at the command centre: recording the cars' GPS batches, the wall's vehicle list, the day's coverage.

Run from the repository root: ``.venv/bin/python -m bench.fleet_bench [--cars 20 --hours 8]`` (about 1 minute).
A private redis-server; the demo grid map; every car drives the demo route at 8 m/s, fixes at 1 Hz sent in
60-fix batches (a minute each), as a patrol car's uplink sends them.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import redis

from fleet.vehicles import Fleet, FleetTelemetryStore, vehicles_for_wall
from geo.grids import GridIndex, load_geojson
from geo.routes import route
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import DEMO_GRIDS, FleetSettings

START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # 08:30 in Zhengzhou: the morning shift


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fleet_bench", description=__doc__.split("\n")[0])
    p.add_argument("--cars", type=int, default=20)
    p.add_argument("--hours", type=int, default=8)
    p.add_argument("--runs", type=int, default=5, help="timed runs of the wall's vehicle list")
    args = p.parse_args(argv)
    out = sys.stdout
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        fleet = Fleet(client, FleetSettings(), "Asia/Shanghai", GridIndex(load_geojson(DEMO_GRIDS)))
        store = FleetTelemetryStore(client, 900, fleet)
        car = route("jinshui-demo", speed_mps=8.0, start=START)
        batches, spent = 0, 0.0
        for c in range(args.cars):
            for b in range(args.hours * 60):
                fixes = [car.fix_at(START + timedelta(seconds=b * 60 + i + c * 7)) for i in range(60)]
                t0 = time.perf_counter()
                store.add(f"car-{c}", fixes, now=fixes[-1].time.timestamp())
                spent += time.perf_counter() - t0
                batches += 1
        out.write(f"record: {batches} batches of 60 fixes, {spent / batches * 1000:.2f} ms per batch "
                  f"({spent / batches / 60 * 1e6:.0f} µs per fix)\n")
        now = START + timedelta(hours=args.hours)
        t0 = time.perf_counter()
        first = vehicles_for_wall(client, now)
        out.write(f"vehicles_for_wall, first call (reads every track): {(time.perf_counter() - t0) * 1000:.0f} ms\n")
        t0 = time.perf_counter()
        for _ in range(args.runs):
            vehicles_for_wall(client, now)
        points = sum(len(v["track"]) for v in first)
        out.write(f"vehicles_for_wall, later calls: {len(first)} vehicles, {points} track points, "
                  f"{(time.perf_counter() - t0) / args.runs * 1000:.0f} ms\n")
        t0 = time.perf_counter()
        cov = fleet.coverage(now.astimezone(fleet.tz).date())
        out.write(f"coverage of the day: {len(cov['grids'])} grids, {len(cov['cells'])} cells of 50 m, "
                  f"{(time.perf_counter() - t0) * 1000:.0f} ms\n")
        out.write(f"redis memory: {client.info('memory')['used_memory_human']}\n")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
