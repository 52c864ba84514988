"""Benchmark of issue 17 item 3: the server's work for one update of the tiled wall map, by the size of the city.

    .venv/bin/python -m bench.map_bench                 # Markdown table on stdout
    .venv/bin/python -m bench.map_bench --runs 50

For each load (open cases, patrol cars with a 200-point track each, street cells driven today, fixed cameras) and
each tile datum (WGS-84 / 天地图 as they are; GCJ-02 / AMap shifted by gridwatch.datum), times what the wall's
map callback does per update once the data is read: the six GeoJSON layers (dashboard.map_leaflet.layer_data,
with the demo grid map's offices), the per-layer hashes that keep unchanged layers from being sent again
(map_leaflet.changed), and the JSON the browser receives when every layer changed. The reads themselves (case
queue, fleet, coverage) are the existing queries, measured in their own sections. Positions are random inside
the demo territory, so every layer has real coordinates to shift. Times are CPU time of the thread (the machine
this runs on is shared, and wall time there says more about the neighbours than about this code).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.grids import load_geojson
from dashboard import map as gridmap
from dashboard import map_leaflet, map_tiles
from dashboard.map_data import MapData
from gridwatch.i18n import translator
from gridwatch.settings import DEMO_GRIDS, MapSettings

LOADS = {  # name: (cases, cars, cells, cameras)
    "district (100 cases, 10 cars, 1,000 cells, 20 cameras)": (100, 10, 1000, 20),
    "city (500 cases, 50 cars, 5,000 cells, 200 cameras)": (500, 50, 5000, 200),
}
BOX = (113.66, 34.77, 113.72, 34.80)  # the demo map's territory: lon0, lat0, lon1, lat1


def _where(rng: random.Random) -> tuple[float, float]:
    return rng.uniform(BOX[1], BOX[3]), rng.uniform(BOX[0], BOX[2])


def fake_data(cases: int, cars: int, cells: int, cameras: int, now: datetime, seed: int = 17) -> MapData:
    rng = random.Random(seed)
    statuses = ["reported", "verified", "dispatched", "handled"]
    case_rows = []
    for i in range(cases):
        lat, lon = _where(rng)
        case_rows.append({"id": f"case-{i}", "lat": lat, "lon": lon, "status": rng.choice(statuses),
                          "overdue": rng.random() < 0.1, "category": "0503",
                          "reported_at": now - timedelta(minutes=rng.uniform(1, 5000))})
    vehicles = []
    for i in range(cars):
        lat, lon = _where(rng)
        track = [[lat + 0.00005 * k, lon + 0.00007 * k] for k in range(200)]
        vehicles.append({"id": f"car-{i}", "name": f"豫A·{i:05d}", "status": "on_patrol", "link": "online",
                         "lat": track[-1][0], "lon": track[-1][1], "track": track})
    cell_rows = [dict(zip(("lat", "lon"), _where(rng), strict=True), cell=f"c{i}") for i in range(cells)]
    cams = [dict(zip(("lat", "lon"), _where(rng), strict=True), id=f"cam-{i}", name=f"路口 {i}",
                 state=rng.choice(["online", "online", "stalled", "offline"])) for i in range(cameras)]
    return MapData(cases=case_rows, vehicles=vehicles, cells=cell_rows, cell_m=50.0, cameras=cams)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f}"


def measure(runs: int) -> list[dict[str, Any]]:
    features = load_geojson(DEMO_GRIDS)
    counts = {f.code: (1, 0) for f in features}
    t = translator("zh_CN")
    texts = gridmap.MapTexts(open="未结案件", overdue="超期", vehicle="车辆")
    now = datetime.now(UTC)
    rows = []
    for load, sizes in LOADS.items():
        data = fake_data(*sizes, now=now)
        for datum in ("wgs84", "gcj02"):
            source = map_tiles.tile_source(MapSettings(tiles_url="http://tiles.local/{z}/{x}/{y}.png", datum=datum))
            assert source is not None
            build: list[float] = []
            collected: list[float] = []
            hashing: list[float] = []
            layers: list[dict[str, Any]] = []
            for _ in range(runs):
                t0 = time.thread_time()
                layers = map_leaflet.layer_data(features, counts, None, data, now, t, texts, source.to_tiles)
                t1 = time.thread_time()
                map_leaflet.changed(layers, None)
                t2 = time.thread_time()
                # The same build with the cycle collector left running (what layer_data pauses).
                map_leaflet._layer_data(features, counts, None, data, now, t, texts, source.to_tiles)
                collected.append(time.thread_time() - t2)
                hashing.append(t2 - t1)
                build.append(t1 - t0)
            size = len(json.dumps(layers, ensure_ascii=False, separators=(",", ":")).encode())
            rows.append({"load": load, "datum": datum, "build": _ms(build), "gc": _ms(collected), "hash": _ms(hashing),
                         "kb": f"{size / 1024:.0f}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="repetitions of each measurement")
    args = parser.parse_args()
    rows = measure(args.runs)
    lines = ["| load | tile datum | layers built, CPU ms median / p95 | the same, cycle collector running "
             "| hashes of the six layers | JSON to the browser when all changed |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['load']} | {r['datum']} | {r['build']} | {r['gc']} | {r['hash']} | {r['kb']} kB |" for r in rows]
    sys.stdout.write("\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
