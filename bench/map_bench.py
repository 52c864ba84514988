"""Benchmark of issue 17 item 3: the server's work for one update of the tiled wall map, by the size of the city.

    .venv/bin/python -m bench.map_bench                 # Markdown table on stdout
    .venv/bin/python -m bench.map_bench --runs 50
    .venv/bin/python -m bench.map_bench --browser       # also the wall in headless Chromium (about 2 minutes)

For each load (open cases, patrol cars with a 200-point track each, street cells driven today, fixed cameras) and
each tile datum (WGS-84 / 天地图 as they are; GCJ-02 / AMap shifted by geo.datum), times what the wall's
map callback does per update once the data is read: the six GeoJSON layers (dashboard.map_leaflet.layer_data,
with the demo grid map's offices), the per-layer hashes that keep unchanged layers from being sent again
(map_leaflet.changed), and the JSON the browser receives when every layer changed. The reads themselves (case
queue, fleet, coverage) are the existing queries, measured in their own sections. Positions are random inside
the demo territory, so every layer has real coordinates to shift. Times are CPU time of the thread (the machine
this runs on is shared, and wall time there says more about the neighbours than about this code).

``--browser``: the real wall (DashboardServer, SQLite, private redis-server, headless Chromium, /login) with the
tiled map on, ``--cases`` alerts ingested into open cases (bench.wall_bench.seed) and ``--cars`` patrol cars with
a 200-fix track each (the telemetry store): time from navigation until every case's dot and every car's track is
drawn, and, for ``--moves`` rounds, from every car's new GPS fix being stored until the page's track layer has
redrawn (through the wall's one-second summary poll and the map callback; p50/p95). The tile URL points at a
closed port: tiles are not what is measured (they fail at once and the notice shows).
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

from dashboard import map as gridmap
from dashboard import map_leaflet, map_tiles
from dashboard.map_data import MapData
from geo.grids import load_geojson
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


_DRAWN_JS = """
return {cases: document.querySelectorAll('path.gw-map-case').length,
        tracks: document.querySelectorAll('.leaflet-wall-tilemap-tracks-pane path').length};
"""
# Records (Date.now()) each time the cars' markers are replaced: the page's side of an update (a car's track
# gains a point only every fleet.track_point_seconds; its marker moves with every fix).
_WATCH_JS = """
window.gwCarChanges = [];
const pane = document.querySelector('.leaflet-wall-tilemap-cars-pane');
new MutationObserver(() => window.gwCarChanges.push(Date.now())).observe(pane, {childList: true, subtree: true});
return true;
"""


def browser_rows(n_cases: int, n_cars: int, moves: int) -> list[str]:
    import socket
    import tempfile
    from pathlib import Path

    import redis
    from selenium.webdriver.support.ui import WebDriverWait

    from alerts.workflow import Role
    from bench.wall_bench import browser, login, open_store, seed
    from dashboard.server import DashboardServer
    from fleet.vehicles import Fleet, FleetTelemetryStore
    from gridwatch.redis_server import EmbeddedRedis
    from gridwatch.types import GpsFix

    with socket.socket() as sock:  # a closed port: the tiles fail at once
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gw-map-bench-") as tmp, EmbeddedRedis() as rserver:
        root = Path(tmp)
        settings, repo, features = open_store(root, rserver.url, Role.ADMIN)
        settings = settings.model_copy(update={"map": MapSettings(
            tiles_url=f"http://127.0.0.1:{closed}/{{z}}/{{x}}/{{y}}.png")})
        client = redis.Redis.from_url(rserver.url)
        seeded = seed(repo, client, settings.media_dir, features, n_cases, 0, settings)
        store = FleetTelemetryStore(client, 900, Fleet.for_settings(settings, client))
        rng = random.Random(8)
        now = time.time()
        ends: list[tuple[float, float]] = []
        for i in range(n_cars):
            lat, lon = _where(rng)
            fixes = [GpsFix(lat + 0.00004 * k, lon + 0.00006 * k, datetime.fromtimestamp(now - 5 * (200 - k), UTC))
                     for k in range(200)]
            store.add(f"car-{i:03d}", fixes, now=now)
            ends.append((fixes[-1].lat, fixes[-1].lon))
        server = DashboardServer(settings, repo, client, rserver.url, port=0, ws_port=0).start()
        driver = browser(root / "chromium")
        try:
            base = server.url
            login(driver, base)
            t0 = time.perf_counter()
            driver.get(base)
            WebDriverWait(driver, 120, poll_frequency=0.05).until(
                lambda d: (lambda n: n["cases"] >= seeded["cases"] and n["tracks"] >= n_cars)(
                    d.execute_script(_DRAWN_JS)))
            first = time.perf_counter() - t0
            rows.append(f"| wall opened: {seeded['cases']} case dots and {n_cars} tracks drawn "
                        f"| {first * 1000:.0f} ms |")
            time.sleep(3)  # the first summary poll's redraw is over
            driver.execute_script(_WATCH_JS)
            latencies: list[float] = []
            for m in range(moves):
                mark = len(driver.execute_script("return window.gwCarChanges;"))
                at = time.time()
                for i, (lat, lon) in enumerate(ends):
                    ends[i] = (lat + 0.00004, lon + 0.00006)
                    store.add(f"car-{i:03d}", [GpsFix(ends[i][0], ends[i][1], datetime.fromtimestamp(at, UTC))],
                              now=at)
                stored = time.time()
                def redrawn(d: Any, since: int = mark) -> float | None:
                    changes = d.execute_script("return window.gwCarChanges;")
                    return float(changes[since]) if len(changes) > since else None

                seen = WebDriverWait(driver, 30, poll_frequency=0.05).until(redrawn)
                assert seen is not None
                latencies.append(seen / 1000 - stored)
                time.sleep(1.5 + (m % 3) * 0.3)  # moves at varying phases of the one-second poll
            ordered = sorted(latencies)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            rows.append(f"| {n_cars} cars move: their fixes stored -> cars redrawn in the page ({moves} moves) "
                        f"| p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms |")
        finally:
            driver.quit()
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="repetitions of each measurement")
    parser.add_argument("--browser", action="store_true", help="also the wall in headless Chromium")
    parser.add_argument("--cases", type=int, default=500, help="with --browser: alerts ingested into open cases")
    parser.add_argument("--cars", type=int, default=50, help="with --browser: patrol cars with a track")
    parser.add_argument("--moves", type=int, default=12, help="with --browser: rounds of every car moving")
    args = parser.parse_args()
    rows = measure(args.runs)
    lines = ["| load | tile datum | layers built, CPU ms median / p95 | the same, cycle collector running "
             "| hashes of the six layers | JSON to the browser when all changed |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['load']} | {r['datum']} | {r['build']} | {r['gc']} | {r['hash']} | {r['kb']} kB |" for r in rows]
    if args.browser:
        lines += ["", "| in headless Chromium | result |", "| --- | --- |",
                  *browser_rows(args.cases, args.cars, args.moves)]
    sys.stdout.write("\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
