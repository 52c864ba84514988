"""The dashboard under a shift's load: operators polling and acting, patrol cars posting GPS, a wall.

Run from the repository root: ``.venv/bin/python -m bench.load_bench [--seconds 120 --operators 50 --cars 20]``.
The dashboard (waitress, every blueprint, a private redis-server, a migrated SQLite file, the demo grid map,
300 open cases, 16 cameras with a preview) runs in a child process, so the load's threads do not share its GIL.
Then, for ``--seconds``:

* each operator (its own login) polls the queue, the newest alerts and the wall summary every 3 s, and every
  ~20 s takes a reported case: claim, verify, release (a 409 when another operator holds it is a refusal, not
  an error);
* each car posts a GPS fix to ``/api/telemetry/<car>`` once a second with ``auth.device_token``;
* one wall polls its summary and its 16 tiles' JPEGs once a second and the vehicles every 2 s.

It prints p50/p95/p99 latency per route, refusals (4xx) and errors (5xx, timeouts, refused connections).
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests

TOKEN = "load-bench-device-token-0123456789"
PASSWORD = "load-bench-password-1"
CAMERAS = 16
CASES = 300
TIMEOUT_S = 30.0
# Where the demo map has grids (Jinshui district, Zhengzhou).
LAT, LON = (34.771, 34.799), (113.661, 113.719)


def _serve(data_dir: str, operators: int, ready: Any, stop: Any) -> None:
    """The child: a whole dashboard, seeded; puts its URL on ``ready`` and runs until ``stop`` is set."""
    import redis as redis_lib

    from alerts.cases import CaseService
    from alerts.users import UserStore
    from alerts.workflow import Actor, Role
    from centre.dashboard import start_dashboard
    from centre.services import open_redis, open_repository
    from geo.routing import GridRouter
    from gridwatch import keys
    from gridwatch.events import camera_state_to_hash
    from gridwatch.lifecycle import Lifecycle
    from gridwatch.settings import load_settings
    from gridwatch.settings.paths import SHARED_DIR
    from gridwatch.types import CameraState, CameraStatus

    settings = load_settings(None, data_dir=Path(data_dir), demo={"enabled": False},
                             dashboard={"port": 0, "ws_port": 0}, ingest={"telemetry_ws_port": 0},
                             auth={"device_token": TOKEN})
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        users = UserStore(repo.engine)
        for n in range(operators):
            users.add(f"op{n}", PASSWORD, Role.OPERATOR)
        service = CaseService(repo.engine, GridRouter(repo.list_grids()), settings.cases)
        rnd = random.Random(7)
        for n in range(CASES):
            service.report(rnd.choice(["0503", "0507", "0501"]), rnd.uniform(*LAT), rnd.uniform(*LON),
                           Actor(f"caller{n}", Role.OPERATOR), source="phone", note=f"bench case {n}")
        client = redis_lib.Redis.from_url(handle.url)
        preview = (SHARED_DIR / "images" / "bus.jpg").read_bytes()
        for n in range(CAMERAS):
            cid = f"cam-{n}"
            state = CameraState(cid, cid, CameraStatus.ONLINE, fps=5.0, frames=1, dropped=0,
                                last_frame_at=datetime.now(UTC))
            client.hset(keys.camera_state(cid), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
            client.sadd(keys.CAMERA_INDEX, cid)
            client.set(keys.camera_preview(cid), preview)
        server = start_dashboard(settings, handle, repo, life)
        ready.put(server.url)
        stop.wait()


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def call(self, route: str, send: Callable[[], requests.Response], ok: tuple[int, ...] = ()) -> Any:
        started = time.perf_counter()
        try:
            r = send()
            _ = r.content
        except requests.RequestException as exc:
            with self.lock:
                self.errors[route].append(type(exc).__name__)
            return None
        took = time.perf_counter() - started
        with self.lock:
            self.latency[route].append(took)
            if r.status_code >= 500:
                self.errors[route].append(str(r.status_code))
            elif r.status_code >= 400 and r.status_code not in ok:
                self.refused[route] += 1
        return r


def _login(url: str, name: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{url}login", data={"username": name, "password": PASSWORD, "next": "/"}, allow_redirects=False,
               timeout=TIMEOUT_S)
    if r.status_code != 303:
        raise RuntimeError(f"login of {name} refused: {r.status_code} {r.text[:200]}")
    return s


def _operator(url: str, name: str, stats: Stats, until: float, rnd: random.Random) -> None:
    s = _login(url, name)
    next_act = time.monotonic() + rnd.uniform(5, 20)
    while time.monotonic() < until:
        cycle = time.monotonic()
        queue = stats.call("GET /api/cases", lambda: s.get(f"{url}api/cases?status=reported&limit=50",
                                                           timeout=TIMEOUT_S))
        stats.call("GET /api/alerts", lambda: s.get(f"{url}api/alerts?limit=20", timeout=TIMEOUT_S))
        stats.call("GET /api/wall/summary", lambda: s.get(f"{url}api/wall/summary", timeout=TIMEOUT_S))
        if time.monotonic() >= next_act and queue is not None and queue.status_code == 200:
            items = queue.json()["items"]
            if items:
                case_id = rnd.choice(items)["id"]
                case = f"{url}api/cases/{case_id}"
                claim = stats.call("POST /api/cases/<id>/claim",
                                   partial(s.post, f"{case}/claim", timeout=TIMEOUT_S), ok=(409,))
                if claim is not None and claim.status_code == 200:
                    stats.call("POST /api/cases/<id>/verify", partial(
                        s.post, f"{case}/verify", json={"note": f"checked by {name}"}, timeout=TIMEOUT_S), ok=(409,))
                    stats.call("DELETE /api/cases/<id>/claim", partial(s.delete, f"{case}/claim", timeout=TIMEOUT_S))
            next_act = time.monotonic() + rnd.uniform(15, 25)
        time.sleep(max(0.0, 3.0 - (time.monotonic() - cycle)))


def _car(url: str, n: int, stats: Stats, until: float, rnd: random.Random) -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    lat, lon = rnd.uniform(*LAT), rnd.uniform(*LON)
    while time.monotonic() < until:
        tick = time.monotonic()
        lat, lon = lat + rnd.uniform(-5e-5, 5e-5), lon + rnd.uniform(-5e-5, 5e-5)
        fix: dict[str, Any] = {"lat": lat, "lon": lon, "time": datetime.now(UTC).isoformat(), "heading": 90.0,
                               "speed": 8.0}
        stats.call("POST /api/telemetry/<car>", partial(s.post, f"{url}api/telemetry/car-{n}", json=fix,
                                                         timeout=TIMEOUT_S))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


def _wall(url: str, stats: Stats, until: float) -> None:
    s = _login(url, "op0")
    beat = 0
    while time.monotonic() < until:
        tick = time.monotonic()
        stats.call("GET /api/wall/summary", lambda: s.get(f"{url}api/wall/summary", timeout=TIMEOUT_S))
        for n in range(CAMERAS):
            stats.call("GET /video/<cam>.jpg", partial(s.get, f"{url}video/cam-{n}.jpg", timeout=TIMEOUT_S))
        if beat % 2 == 0:
            stats.call("GET /api/vehicles", lambda: s.get(f"{url}api/vehicles", timeout=TIMEOUT_S))
        beat += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load_bench", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--operators", type=int, default=50)
    p.add_argument("--cars", type=int, default=20)
    args = p.parse_args(argv)
    out = sys.stdout
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="gw-load-") as tmp:
        child = ctx.Process(target=_serve, args=(str(Path(tmp) / "data"), args.operators, ready, stop), daemon=True)
        child.start()
        try:
            url = ready.get(timeout=300)
            out.write(f"dashboard at {url}: {args.operators} operators, {args.cars} cars, 1 wall, "
                      f"{args.seconds:.0f} s\n")
            stats = Stats()
            until = time.monotonic() + args.seconds
            rnd = random.Random(11)
            threads = [threading.Thread(target=_operator, args=(url, f"op{n}", stats, until,
                                                                random.Random(rnd.random())), daemon=True)
                       for n in range(args.operators)]
            threads += [threading.Thread(target=_car, args=(url, n, stats, until, random.Random(rnd.random())),
                                         daemon=True) for n in range(args.cars)]
            threads.append(threading.Thread(target=_wall, args=(url, stats, until), daemon=True))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            stop.set()
            child.join(30)
            if child.is_alive():
                child.terminate()
    total = sum(len(v) for v in stats.latency.values())
    errors = sum(len(v) for v in stats.errors.values())
    out.write(f"{total} requests in {args.seconds:.0f} s ({total / args.seconds:.0f}/s), {errors} errors\n\n")
    out.write("| route | requests | p50 ms | p95 ms | p99 ms | refused (4xx) | errors |\n")
    out.write("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for route in sorted(stats.latency):
        v = stats.latency[route]
        out.write(f"| `{route}` | {len(v)} | {statistics.median(v) * 1000:.0f} | {_pct(v, 0.95):.0f} | "
                  f"{_pct(v, 0.99):.0f} | {stats.refused.get(route, 0)} | {len(stats.errors.get(route, []))} |\n")
    for route, errs in stats.errors.items():
        out.write(f"errors on {route}: {sorted(set(errs))}\n")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
