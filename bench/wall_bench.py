"""Benchmark of issue 6: the wall with 16 live video tiles and 1,000 open alerts, in headless Chromium.

    .venv/bin/python -m bench.wall_bench                        # Markdown table on stdout, progress on stderr
    .venv/bin/python -m bench.wall_bench --viewers 1,3 --seconds 20 --pushes 40 --loads 5

Everything is real and local: a private redis-server, a migrated SQLite database with the demo grid map,
1,000 alerts of today (with snapshots) ingested into open cases (plus a few overdue ones), 16 cameras whose
preview JPEGs change at 5 fps like a worker's, the real DashboardServer (waitress + push websocket) and
Debian's chromium/chromedriver, logged in through /login.

Measured:
* time to first render: from navigation start until the alert queue, the map, the day's figures are drawn,
  and until all 16 tiles show a frame (a poller installed before the page's own scripts records when);
* push latency: alert stored + added to the stream -> its item is in the page's DOM (MutationObserver),
  every viewer, p50/p95;
* server CPU per viewer: CPU of the dashboard's threads (and of redis-server) while N walls are open, minus
  the same with none, per viewer; frames per second each wall fetched;
* why JPEG polling: 16 MJPEG <img>s vs 16 polled JPEG <img>s in one page, tiles with a frame after 5 s.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import redis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts.cases import CaseService, Observation
from alerts.casework import Casework, Target
from alerts.db import make_engine, migrate
from alerts.repository import Repository
from alerts.users import UserStore
from alerts.workflow import Actor, Role
from bench.cpu import process_cpu, thread_cpu
from dashboard.server import DashboardServer
from geo.grids import GridFeature, load_geojson
from geo.routing import GridRouter
from gridwatch import keys, timefmt
from gridwatch.events import alert_to_stream, camera_state_to_hash
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import DEMO_GRIDS, Settings, load_settings
from gridwatch.settings.paths import SHARED_DIR
from gridwatch.types import Alert, CameraState, CameraStatus

log = logging.getLogger("bench.wall")

CHROMEDRIVER = "/usr/bin/chromedriver"
USER, PASSWORD = "bench", "bench-password-1"
TILES = 16
PREVIEW_FPS = 5.0
IMAGES = ("bus.jpg", "zidane.jpg", "streetview_people_sitting_park.jpg")
OPERATOR = Actor("bench", Role.OPERATOR)

# Installed before any page script: records when each part of the wall is first drawn (ms since navigation
# start) and when each alert item first appears in the DOM (epoch ms, to compare with the server's clock).
_PROBE_JS = """
(function () {
  performance.setResourceTimingBufferSize(100000);
  window.__gwReady = {};
  window.__gwSeen = {};
  window.__gwWire = {};
  var Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener('message', function (e) {
      try { var m = JSON.parse(e.data); if (m.alert) { window.__gwWire[m.alert.id] = Date.now(); } } catch (err) {}
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  function mark(name, ok) { if (ok && !(name in window.__gwReady)) { window.__gwReady[name] = performance.now(); } }
  function check() {
    var q = function (s) { return document.querySelectorAll(s); };
    mark('queue', q('.gw-alert').length >= 40);
    mark('map', q('#wall-map path.js-fill').length > 0);
    var f = document.getElementById('wall-figure-collected');
    mark('figures', !!f && f.textContent !== '' && f.textContent !== '0');
    var shown = Array.from(q('img.gw-cam-img')).filter(function (i) { return i.offsetParent !== null; });
    mark('tiles', shown.length >= 16 && shown.every(function (i) { return i.naturalWidth > 0; }));
    if (Object.keys(window.__gwReady).length < 4) { setTimeout(check, 10); }
  }
  setTimeout(check, 10);
  new MutationObserver(function (records) {
    var now = Date.now();
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) { return; }
        var items = n.matches('[data-alert-id]') ? [n] : Array.from(n.querySelectorAll('[data-alert-id]'));
        items.forEach(function (e) {
          var id = e.getAttribute('data-alert-id');
          if (!(id in window.__gwSeen)) { window.__gwSeen[id] = now; }
        });
      });
    });
  }).observe(document, { childList: true, subtree: true });
})();
"""

_COMPARE_JS = """
document.body.innerHTML = '';
const kind = arguments[0], ids = arguments[1];
window.__imgs = ids.map(id => {
  const img = document.createElement('img');
  img.width = 160;
  document.body.appendChild(img);
  if (kind === 'mjpg') { img.src = '/video/' + id + '.mjpg'; return img; }
  let busy = false, n = 0;
  const pump = () => { if (busy) return; busy = true; img.src = '/video/' + id + '.jpg?f=' + (++n); };
  img.onload = img.onerror = () => { busy = false; };
  setInterval(pump, 250); pump();
  return img;
});
"""


@contextmanager
def _step(name: str) -> Iterator[None]:
    t = time.perf_counter()
    log.info("%s ...", name)
    yield
    log.info("%s done in %.1f s", name, time.perf_counter() - t)


def _jpeg(name: str, width: int, quality: int = 80) -> bytes:
    img = cv2.imread(str(SHARED_DIR / "images" / name))
    if img is None:
        raise SystemExit(f"cannot read {SHARED_DIR / 'images' / name}: the benchmark needs ../shared")
    h, w = img.shape[:2]
    img = cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(np.asarray(buf).tobytes())


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- data ------------------------------------------------------------------------------------------------

def _random_point(rng: random.Random, grid: GridFeature) -> tuple[float, float]:
    ring = grid.geometry["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))


def open_store(root: Path, redis_url: str, role: Role) -> tuple[Settings, Repository, list[GridFeature]]:
    """Settings under ``root`` on the private Redis, a migrated SQLite database with the demo grid map, and the
    benchmark's user (USER, PASSWORD) of ``role``."""
    settings = load_settings(None, data_dir=root / "data", redis_url=redis_url, demo={"enabled": False})
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    repo = Repository(engine)
    features = load_geojson(DEMO_GRIDS)
    repo.replace_grids(features)
    UserStore(engine).add(USER, PASSWORD, role)
    return settings, repo, features


def seed(repo: Repository, client: redis.Redis, media: Path, features: list[GridFeature], n_alerts: int,
         n_overdue: int, settings: Any) -> dict[str, int]:
    """``n_alerts`` alerts of today (snapshots on disk) ingested into open cases, and ``n_overdue`` old cases."""
    rng = random.Random(6)
    leaves = [f for f in features if f.level == 3]
    now = datetime.now(UTC)
    midnight, _end = timefmt.local_day_bounds(now, settings.locale.timezone)
    span = max(60.0, (now - midnight).total_seconds() - 60)
    snaps = [_jpeg(name, 480) for name in IMAGES]
    router = GridRouter(features, settings.cases.fallback_grid)
    service = CaseService(repo.engine, router, settings.cases)
    categories = ("0501", "0502", "0503", "0504", "0507")
    observations = []
    for i in range(n_alerts):
        grid = rng.choice(leaves)
        lat, lon = _random_point(rng, grid)
        at = now - timedelta(seconds=span * (n_alerts - i) / n_alerts)
        alert = Alert(id=uuid.uuid4().hex, camera_id=f"cam-{i % TILES + 1:02d}", category=rng.choice(categories),
                      confidence=rng.uniform(0.55, 0.97), detected_at=at, lat=lat, lon=lon, grid_code=grid.code,
                      snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0), track_id=i)
        rel = f"snapshots/bench/{alert.id}.jpg"
        (media / rel).parent.mkdir(parents=True, exist_ok=True)
        (media / rel).write_bytes(snaps[i % len(snaps)])
        repo.add_alert(alert, event_id=f"bench-{alert.id}", snapshot_path=rel)
        observations.append(Observation(category=alert.category, seen_at=at, lat=lat, lon=lon, source="camera",
                                        alert_id=alert.id, camera_id=alert.camera_id, snapshot_path=rel))
    ingested = service.ingest(observations)
    work = Casework(repo.engine, router, settings=settings.cases)
    then = now - timedelta(days=30)
    for _ in range(n_overdue):
        grid = rng.choice(leaves)
        lat, lon = _random_point(rng, grid)
        case = service.ingest([Observation(category="0507", seen_at=then, lat=lat, lon=lon, source="web")])[0]
        work.verify(case.case_id, OPERATOR, now=then + timedelta(minutes=1))
        work.register(case.case_id, OPERATOR, now=then + timedelta(minutes=2))
        work.dispatch(case.case_id, OPERATOR, Target(grid=grid.code), now=then + timedelta(minutes=3))
    client.xadd(keys.ALERTS_STREAM, {"bench": "start"})  # not an alert: the push feed skips it
    return {"alerts": n_alerts, "cases": len({r.case_id for r in ingested}), "overdue": n_overdue}


class Cameras:
    """16 cameras as a worker publishes them: state hashes and a preview JPEG that changes at 5 fps."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.ids = [f"cam-{i:02d}" for i in range(1, TILES + 1)]
        self._frames = [_jpeg(name, 640, q) for name in IMAGES for q in (78, 80)]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-cameras", daemon=True)

    def start(self) -> Cameras:
        self._publish(0)
        self.thread.start()
        return self

    def _publish(self, k: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        now = datetime.now(UTC)
        for i, cid in enumerate(self.ids):
            state = CameraState(cid, f"路口 {i + 1:02d}", CameraStatus.ONLINE, fps=PREVIEW_FPS, frames=k, dropped=0,
                                last_frame_at=now, error=None)
            if k % 10 == 0:
                pipe.hset(keys.camera_state(cid), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
                pipe.sadd(keys.CAMERA_INDEX, cid)
            pipe.set(keys.camera_preview(cid), self._frames[(k + i) % len(self._frames)], px=10_000)
        pipe.execute()

    def _run(self) -> None:
        k = 0
        while not self._stop.wait(1 / PREVIEW_FPS):
            k += 1
            self._publish(k)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


# --- browsers --------------------------------------------------------------------------------------------

def browser(profile: Path) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1920,1080", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _PROBE_JS})
    return driver


def login(driver: webdriver.Chrome, base: str) -> None:
    driver.get(base + "login?next=/")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "username"))
    driver.find_element(By.ID, "username").send_keys(USER)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)


def open_wall(driver: webdriver.Chrome, base: str, timeout: float = 60) -> dict[str, float]:
    driver.get(base)
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: len(d.execute_script("return window.__gwReady || {};")) >= 4)
    WebDriverWait(driver, timeout).until(lambda d: "gw-conn-live" in (
        d.find_element(By.ID, "wall-connection").get_attribute("class") or ""))
    return dict(driver.execute_script("return window.__gwReady;"))


# --- measurements ----------------------------------------------------------------------------------------

def first_render(driver: webdriver.Chrome, base: str, loads: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for _ in range(loads):
        ready = open_wall(driver, base)
        for k, v in ready.items():
            runs.setdefault(k, []).append(float(v))
    return runs


def push_latency(drivers: Sequence[webdriver.Chrome], repo: Repository, client: redis.Redis,
                 features: list[GridFeature], n: int, interval_s: float,
                 listener: WireListener | None = None) -> tuple[list[float], list[float], list[float]]:
    """(stream entry -> item in the DOM, -> websocket message handled in the page, -> message received by a
    plain websocket client) in ms."""
    rng = random.Random(7)
    leaves = [f for f in features if f.level == 3]
    sent: dict[str, float] = {}
    for i in range(n):
        grid = rng.choice(leaves)
        lat, lon = _random_point(rng, grid)
        alert = Alert(id=uuid.uuid4().hex, camera_id=f"cam-{i % TILES + 1:02d}", category="0503", confidence=0.9,
                      detected_at=datetime.now(UTC), lat=lat, lon=lon, grid_code=grid.code, snapshot_url=None,
                      bbox=(1.0, 2.0, 3.0, 4.0), track_id=10_000 + i)
        # As the alert sink does it: the row, then the stream entry; latency counts from the stream entry.
        repo.add_alert(alert, event_id=f"push-{alert.id}", snapshot_path=None)
        sent[alert.id] = time.time() * 1000
        client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]
        time.sleep(interval_s)
    time.sleep(5)
    latencies: list[float] = []
    wire: list[float] = []
    missing = 0
    for d in drivers:
        seen = d.execute_script("return window.__gwSeen;")
        got = d.execute_script("return window.__gwWire;")
        for aid, t0 in sent.items():
            if aid in seen:
                latencies.append(float(seen[aid]) - t0)
            else:
                missing += 1
            if aid in got:
                wire.append(float(got[aid]) - t0)
    if missing:
        log.warning("%d pushed alerts never appeared in a wall", missing)
    sock = [listener.seen[aid] - t0 for aid, t0 in sent.items() if listener is not None and aid in listener.seen]
    return latencies, wire, sock


class WireListener:
    """A websocket client beside the browsers, logged in like them: when the push server sent each alert
    (the browsers' own latency adds their main thread's queueing on top of this)."""

    def __init__(self, ws_url: str, base: str) -> None:
        import requests

        with requests.Session() as s:
            r = s.post(base + "login", data={"username": USER, "password": PASSWORD, "next": "/"},
                       allow_redirects=False, timeout=30)
            if r.status_code != 303:
                raise SystemExit(f"bench login refused: {r.status_code}")
            self._cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
        self._url = ws_url.replace("0.0.0.0", "127.0.0.1")
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-wire", daemon=True)
        self.thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self._url, additional_headers={"Cookie": self._cookie}) as ws:
            self._ready.set()
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                msg = json.loads(raw)
                if "alert" in msg:
                    self.seen.setdefault(msg["alert"]["id"], time.time() * 1000)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


def _server_cpu(exclude: set[int]) -> float:
    return sum(cpu for tid, (_comm, cpu) in thread_cpu().items() if tid not in exclude)


def cpu_window(seconds: float, exclude: set[int], redis_pid: int) -> tuple[float, float]:
    """(dashboard threads' CPU seconds, redis-server CPU seconds) over ``seconds``."""
    s0, r0 = _server_cpu(exclude), process_cpu(redis_pid)
    time.sleep(seconds)
    return _server_cpu(exclude) - s0, process_cpu(redis_pid) - r0


def frames_fetched(driver: webdriver.Chrome, since_ms: float) -> int:
    return int(driver.execute_script(
        "return performance.getEntriesByType('resource').filter("
        "e => e.name.indexOf('/video/') >= 0 && e.responseEnd > arguments[0]).length;", since_ms))


def compare_video(driver: webdriver.Chrome, base: str, camera_ids: Sequence[str], wait_s: float) -> dict[str, Any]:
    """16 MJPEG streams vs 16 polled JPEGs, each in a fresh page: tiles that showed a frame within ``wait_s``
    and the seconds until all 16 had (None: not within ``wait_s``)."""
    out: dict[str, Any] = {}
    for kind in ("jpg", "mjpg"):  # MJPEG last: its streams must not linger into the other run
        driver.get(base + "healthz")  # a page of the wall's origin (the session cookie applies)
        driver.execute_script(_COMPARE_JS, kind, list(camera_ids))
        t0 = time.perf_counter()
        all_at = None
        most = 0
        while time.perf_counter() - t0 < wait_s:
            # Tiles that have shown a frame so far (an <img> between two frames may read 0 for a moment).
            n = int(driver.execute_script(
                "window.__imgs.forEach(i => { if (i.naturalWidth > 0) { i.__had = 1; } });"
                "return window.__imgs.filter(i => i.__had).length;"))
            most = max(most, n)
            if n == len(camera_ids) and all_at is None:
                all_at = time.perf_counter() - t0
            time.sleep(0.1)
        out[kind] = most
        out[kind + "_all_s"] = all_at
        driver.get("about:blank")  # ends the streams
    return out


def browser_cpu(drivers: Sequence[webdriver.Chrome]) -> float:
    """CPU seconds so far of the browsers' process trees (chromedriver, chromium and its helpers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry))
    total = 0.0
    todo = [int(d.service.process.pid) for d in drivers]  # type: ignore[attr-defined]
    while todo:
        pid = todo.pop()
        try:
            total += process_cpu(pid)
        except OSError:
            continue
        todo += children.get(pid, [])
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1000, help="open alerts (and their cases) of today")
    parser.add_argument("--overdue", type=int, default=30, help="extra month-old overdue cases")
    parser.add_argument("--viewers", default="1,3", help="comma-separated numbers of open walls for the CPU runs")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each CPU window")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed for the first render")
    parser.add_argument("--pushes", type=int, default=30, help="alerts pushed for each latency run")
    parser.add_argument("--push-rate", type=float, default=1.0, help="alerts per second in the latency runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("alerts", "dashboard", "waitress", "gridwatch", "selenium", "urllib3", "ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    viewer_counts = sorted({int(v) for v in args.viewers.split(",") if v.strip()})
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gw-wall-bench-") as tmp, EmbeddedRedis() as rserver:
        root = Path(tmp)
        settings, repo, features = open_store(root, rserver.url, Role.ADMIN)
        engine = repo.engine
        client = redis.Redis.from_url(rserver.url)
        redis_pid = int(client.info("server")["process_id"])
        with _step(f"seeding {args.alerts} alerts into cases"):
            seeded = seed(repo, client, settings.media_dir, features, args.alerts, args.overdue, settings)
        cams = Cameras(client).start()
        server = DashboardServer(settings, repo, client, rserver.url, port=0, ws_port=0).start()
        exclude = {threading.main_thread().native_id or 0, cams.thread.native_id or 0}
        drivers: list[webdriver.Chrome] = []
        listener: WireListener | None = None
        rows = ["| what | result |", "| --- | --- |"]
        try:
            base = server.url
            with _step("browser and login"):
                first = browser(root / "chromium-0")
                drivers.append(first)
                login(first, base)
            with _step("16 MJPEG streams vs 16 polled JPEGs in one page"):
                compared = compare_video(first, base, cams.ids, 10.0)
            with _step("first render"):
                open_wall(first, base)  # warm-up: caches, the server's first requests
                runs = first_render(first, base, args.loads)
            def _all(v: float | None) -> str:
                return "never" if v is None else f"{v:.1f} s"

            rows.append(f"| one page of 16 tiles: tiles that showed a frame within 10 s (all 16 after) | MJPEG: "
                        f"{compared['mjpg']} ({_all(compared['mjpg_all_s'])}); polled JPEGs: {compared['jpg']} "
                        f"({_all(compared['jpg_all_s'])}) |")
            for key, label in (("queue", "alert queue (40 items)"), ("map", "grid map"),
                               ("figures", "day's figures"), ("tiles", "all 16 tiles with a frame")):
                v = runs.get(key, [])
                rows.append(f"| first render: {label}, median / max of {len(v)} loads | "
                            f"{statistics.median(v):.0f} / {max(v):.0f} ms |")
            with _step("idle CPU (no wall open)"):
                first.get("about:blank")
                time.sleep(3)
                idle_server, idle_redis = cpu_window(args.seconds, exclude, redis_pid)
            idle_pct, idle_redis_pct = 100 * idle_server / args.seconds, 100 * idle_redis / args.seconds
            rows.append(f"| server CPU with no wall open (camera publisher excluded) | "
                        f"{idle_pct:.1f} % of a core, redis {idle_redis_pct:.1f} % |")
            for n in viewer_counts:
                with _step(f"{n} wall(s) open"):
                    while len(drivers) < n:
                        d = browser(root / f"chromium-{len(drivers)}")
                        login(d, base)
                        drivers.append(d)
                    for d in drivers[:n]:
                        open_wall(d, base)
                    time.sleep(3)
                    marks = [float(d.execute_script("return performance.now();")) for d in drivers[:n]]
                    b0 = browser_cpu(drivers[:n])
                    server_cpu, redis_cpu = cpu_window(args.seconds, exclude, redis_pid)
                    chrome = (browser_cpu(drivers[:n]) - b0) / n / args.seconds
                    fps = [frames_fetched(d, m) / args.seconds for d, m in zip(drivers[:n], marks, strict=True)]
                per_viewer = (server_cpu - idle_server) / n / args.seconds
                per_viewer_redis = (redis_cpu - idle_redis) / n / args.seconds
                rows.append(f"| {n} wall(s) of 16 tiles: server CPU per wall (above idle) | "
                            f"{100 * per_viewer:.1f} % of a core (+ redis {100 * per_viewer_redis:.1f} %); "
                            f"{statistics.mean(fps):.1f} frames/s fetched per wall; the headless browser itself "
                            f"{100 * chrome:.0f} % of a core per wall (software rendering) |")
            listener = WireListener(server.ws_url, base)
            for walls in sorted({1, len(drivers)}):
                with _step(f"push latency with {walls} wall(s) open"):
                    for d in drivers[walls:]:
                        d.get("about:blank")
                    for d in drivers[:walls]:
                        open_wall(d, base)
                    time.sleep(2)
                    lat, wire, sock = push_latency(drivers[:walls], repo, client, features, args.pushes,
                                                   1 / args.push_rate, listener)
                rows.append(f"| push latency, {walls} wall(s) open, {args.push_rate:g} alert/s: stream entry -> "
                            f"item in the DOM ({len(lat)} deliveries) | p50 {_pct(lat, 0.5):.0f} ms, "
                            f"p95 {_pct(lat, 0.95):.0f} ms, max {max(lat, default=float('nan')):.0f} ms |")
                rows.append(f"| ... of which stream entry -> websocket message handled in the page | "
                            f"p50 {_pct(wire, 0.5):.0f} ms, p95 {_pct(wire, 0.95):.0f} ms |")
                rows.append(f"| ... server side: stream entry -> message at a plain websocket client | "
                            f"p50 {_pct(sock, 0.5):.0f} ms, p95 {_pct(sock, 0.95):.0f} ms |")
        finally:
            if listener is not None:
                listener.stop()
            for d in drivers:
                try:
                    d.quit()
                except Exception as exc:  # noqa: BLE001 - a browser already gone must not hide the results
                    log.warning("browser did not quit: %s", exc)
            server.stop()
            cams.stop()
            client.close()
            engine.dispose()
    load = os.getloadavg()
    sys.stdout.write("\n".join(rows) + "\n")
    sys.stdout.write(f"\nData: {json.dumps(seeded)}; run took {time.perf_counter() - t_start:.0f} s; load average "
                     f"at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} ({os.cpu_count()} cores)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
