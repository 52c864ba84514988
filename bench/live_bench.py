"""Benchmark of issue 17 item 1: live video in the wall's tiles (dashboard.live), in headless Chromium, loopback.

    .venv/bin/python -m bench.live_bench                    # Markdown on stdout, progress on stderr
    .venv/bin/python -m bench.live_bench --latency-s 20 --cold 5 --warm 10 --tiles 16 --soak-s 120 --relay-s 60

Everything is real: a private redis-server, the real DashboardServer (waitress, push and live websockets), Debian's
chromium logged in through /login, and real RTSP cameras.

Measured:
* glass-to-glass latency: a live camera (bench/timecode_rtsp.py, 640x360 at 25 fps, H.264) draws each frame's
  capture time into its pixels; the wall's tile reads it back from every frame it presents
  (``requestVideoFrameCallback``, the frame drawn to a canvas) and takes the presentation time minus that. It spans
  capture, encoding, RTSP, the relay, the websocket, MSE, decoding and compositing: p50/p95.
* time to first frame: ``GridWatchLive.attach`` on a fresh <video> -> its first presented frame. Cold = nobody
  watches the camera (the relay opens RTSP and waits for a keyframe); warm = the wall's tile already plays it (the
  joiner gets the frames since the last keyframe at once).
* N live tiles (default 16) on one wall for ``--soak-s`` seconds, each a camera of real street footage (1280x720,
  25 fps, the shared clip): frames presented per tile per second, stalls (a playing tile whose picture did not move
  for 1 s), jumps to the live edge, the page's JS heap at the start and the end; and the CPU of the relay (the live
  server's loop and relay threads) per relayed camera, with the whole dashboard process's for comparison. A page
  too slow to decode every tile plays fewer (live.js's budget): the table says how many played at the end.
* the relay alone: the same N cameras, each read by a websocket client thread that discards the bytes, no browser
  competing for the CPU: % of a core per camera, frames delivered per camera per second.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait
from websockets.sync.client import connect

from alerts.workflow import Role
from bench.cpu import thread_cpu
from bench.timecode_source import TIMECODE_JS, TimecodeCamera
from bench.wall_bench import _pct, browser, browser_cpu, login, open_store
from dashboard.live import LiveServer
from dashboard.server import DashboardServer
from demo.server import RtspTestServer
from gridwatch import keys
from gridwatch.events import camera_state_to_hash
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings, Settings
from gridwatch.settings.paths import SHARED_DIR
from gridwatch.types import CameraState, CameraStatus

log = logging.getLogger("bench.live")
STREET = SHARED_DIR / "video" / "towncentre_street_pedestrians_1080p.mp4"

# Per presented frame of every live tile: its time code's age at presentation (latency) and a movement clock.
_PROBE_JS = TIMECODE_JS + """
window.__live = {lat: [], tiles: {}};
window.__watch = function (video, cid, withCode) {
  video._benchWatched = true;
  var t = window.__live.tiles[cid] = window.__live.tiles[cid] || {frames: 0, stalls: 0, maxStill: 0};
  var mine = {last: 0};  // per <video>: a tile sent back to the preview and played again is a new element
  function onFrame(now, meta) {
    if (!video.isConnected) { return; }
    t.frames += 1;
    var gap = mine.last ? now - mine.last : 0;
    if (gap > 1000) { t.stalls += 1; }
    t.maxStill = Math.max(t.maxStill, gap);
    mine.last = now;
    if (withCode) {
      var code = readTimecode(video);
      var shown = performance.timeOrigin + (meta.expectedDisplayTime || now);
      if (code !== null) { window.__live.lat.push(shown - code); }
    }
    video.requestVideoFrameCallback(onFrame);
  }
  video.requestVideoFrameCallback(onFrame);
};
window.__watchAll = function () {
  setInterval(function () {
    document.querySelectorAll('.gw-cam[data-cam] video.gw-cam-live').forEach(function (v) {
      if (!v._benchWatched) { window.__watch(v, v.closest('.gw-cam').getAttribute('data-cam'), false); }
    });
  }, 100);
};
window.__firstFrame = function (cid) {
  return new Promise(function (resolve) {
    var v = document.createElement('video');
    v.muted = true; v.width = 320; v.height = 180;
    document.body.appendChild(v);
    var t0 = performance.now();
    var handle = window.GridWatchLive.attach(v, cid);
    v.requestVideoFrameCallback(function (now) {
      var ms = now - t0;
      handle.close(); v.remove();
      resolve(ms);
    });
  });
};
"""


def _publish(client: redis.Redis, camera_id: str) -> None:
    state = CameraState(camera_id, camera_id, CameraStatus.ONLINE, fps=25.0, frames=1, dropped=0,
                        last_frame_at=datetime.now(UTC))
    client.hset(keys.camera_state(camera_id), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
    client.expire(keys.camera_state(camera_id), 3600)
    client.sadd(keys.CAMERA_INDEX, camera_id)


def _camera(url: str, camera_id: str) -> CameraSettings:
    return CameraSettings.model_validate({"id": camera_id, "name": camera_id, "url": url})


def _wall(settings: Settings, repo: Any, client: redis.Redis, redis_url: str,
          cameras: dict[str, CameraSettings], live_tiles: int) -> DashboardServer:
    for cid in cameras:
        _publish(client, cid)
    board = settings.dashboard.model_copy(update={"live_tiles": live_tiles})
    return DashboardServer(settings.model_copy(update={"dashboard": board}), repo, client, redis_url,
                           port=0, ws_port=0, cameras=cameras.get).start()


def _open(driver: webdriver.Chrome, base: str, camera_ids: Sequence[str], timeout: float = 120) -> None:
    driver.get(base)
    # Every tile live, or as many as the page's budget allows once it found it cannot decode them all.
    WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(
        "var live = arguments[0].filter(function (c) { return !!document.querySelector("
        "'.gw-cam[data-cam=\"' + c + '\"] .gw-cam-video.gw-live-on'); }).length;"
        "var budget = window.GridWatchLive ? window.GridWatchLive.budget() : 0;"
        "return live > 0 && live >= Math.min(arguments[0].length, budget);", list(camera_ids)))
    driver.execute_script(_PROBE_JS)


def _video(cid: str) -> str:
    return f'.gw-cam[data-cam="{cid}"] video.gw-cam-live'


def latency_and_first_frame(driver: webdriver.Chrome, base: str, settings: Settings, repo: Any,
                            client: redis.Redis, redis_url: str, seconds: float, cold: int, warm: int
                            ) -> dict[str, list[float]]:
    with TimecodeCamera(codec="h264", fps=25) as cam:
        wall = _wall(settings, repo, client, redis_url, {"tc": _camera(cam.url, "tc")}, 16)
        try:
            base = wall.url
            login(driver, base)
            _open(driver, base, ["tc"])
            driver.execute_script("window.__watch(document.querySelector(arguments[0]), 'tc', true);", _video("tc"))
            time.sleep(seconds)
            latency = [float(x) for x in driver.execute_script("return window.__live.lat;")]
            warm_ms = [float(driver.execute_async_script(
                "window.__firstFrame(arguments[0]).then(arguments[arguments.length - 1]);", "tc"))
                for _ in range(warm)]
            # Cold: nobody watches (the tab's tile is released by hiding the tab), the relay has closed.
            driver.execute_script("Object.defineProperty(document, 'hidden', {configurable: true, get: function () "
                                  "{ return true; }}); document.dispatchEvent(new Event('visibilitychange'));")
            live = wall.live
            assert live is not None
            cold_ms = []
            for _ in range(cold):
                deadline = time.monotonic() + 60
                while live.upstreams() and time.monotonic() < deadline:
                    time.sleep(0.1)
                cold_ms.append(float(driver.execute_async_script(
                    "window.__firstFrame(arguments[0]).then(arguments[arguments.length - 1]);", "tc")))
        finally:
            wall.stop()
    return {"latency": latency, "warm": warm_ms, "cold": cold_ms}


def _relay_cpu(live: LiveServer, seconds: float) -> tuple[float, float]:
    """(CPU seconds of the live server's loop and relay threads, mean cameras relayed) over ``seconds``, sampled
    each second (a relay the page released ends, and its thread's time with it)."""
    cpu, cameras, samples = 0.0, 0, 0
    before = {tid: c for tid, (_, c) in thread_cpu().items()}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        ours = set(live.native_threads())
        now = {tid: c for tid, (_, c) in thread_cpu().items()}
        cpu += sum(now[tid] - before.get(tid, 0.0) for tid in ours if tid in now)
        cameras += len(live.upstreams())
        samples += 1
        before = now
    return cpu, cameras / max(1, samples)


def _process_cpu() -> float:
    return sum(cpu for _, cpu in thread_cpu().values())


def soak(driver: webdriver.Chrome, settings: Settings, repo: Any, client: redis.Redis, redis_url: str,
         tiles: int, seconds: float, sub: bool = False) -> dict[str, Any]:
    """``sub``: the cameras also have a 640x360 detection sub-stream, which the small tiles play."""
    with RtspTestServer(STREET, width=1280, sub_mount="/sub" if sub else None) as street:
        cams = {f"street-{i:02d}": CameraSettings.model_validate(
            {"id": f"street-{i:02d}", "name": f"street-{i:02d}", "url": street.url,
             **({"detect_url": street.sub_url} if sub else {})}) for i in range(tiles)}
        wall = _wall(settings, repo, client, redis_url, cams, tiles)
        try:
            login(driver, wall.url)
            _open(driver, wall.url, list(cams))
            driver.execute_script("window.__watchAll();")
            live = wall.live
            assert live is not None
            time.sleep(3)  # every tile past its start
            heap0 = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null;")
            frames0 = driver.execute_script("return window.__live.tiles;")
            proc0, browser0, t0 = _process_cpu(), browser_cpu([driver]), time.monotonic()
            relay_cpu, relayed = _relay_cpu(live, seconds)
            proc1, browser1, t1 = _process_cpu(), browser_cpu([driver]), time.monotonic()
            frames1 = driver.execute_script("return window.__live.tiles;")
            heap1 = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null;")
            jumps = driver.execute_script(
                "var p = window.GridWatchLive.wallPlayers(), out = 0; "
                "Object.keys(p).forEach(function (c) { out += p[c].stats().jumps; }); return out;")
            playing = driver.execute_script("return document.querySelectorAll('.gw-cam-video.gw-live-on').length;")
            budget = driver.execute_script("return window.GridWatchLive.budget();")
            span = t1 - t0
            # A tile the page sent back to the preview presents no frames: the wall's total per tile still playing.
            presented = sum(frames1[c]["frames"] - frames0.get(c, {"frames": 0})["frames"] for c in frames1)
            fps = presented / span / max(1, playing)
            stalls = sum(frames1[c]["stalls"] - frames0.get(c, {"stalls": 0})["stalls"] for c in frames1)
            return {
                "tiles": tiles, "playing": playing, "budget": budget, "seconds": span, "fps": fps, "stalls": stalls,
                "max_still_ms": max(float(t["maxStill"]) for t in frames1.values()), "jumps": jumps,
                "relay_core_per_tile": relay_cpu / span / max(relayed, 1e-9), "relayed": relayed,
                "process_core": (proc1 - proc0) / span, "browser_core": (browser1 - browser0) / span,
                "heap_mb": (None if heap0 is None else heap0 / 2**20, None if heap1 is None else heap1 / 2**20),
            }
        finally:
            wall.stop()


def relay_only(cameras: int, seconds: float) -> dict[str, float]:
    """The relay's CPU alone: ``cameras`` cameras of street footage, each read by one websocket client thread of
    this process that discards what it gets (no browser to compete with)."""
    with RtspTestServer(STREET, width=1280) as street:
        cams = {f"street-{i:02d}": _camera(street.url, f"street-{i:02d}") for i in range(cameras)}
        live = LiveServer(cams.get).start()
        stop = threading.Event()
        received = [0] * cameras

        def viewer(k: int, cid: str) -> None:
            with connect(f"ws://127.0.0.1:{live.port}/live/{cid}", max_size=None) as ws:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        ws.recv(timeout=0.5)
                        received[k] += 1

        threads = [threading.Thread(target=viewer, args=(k, cid), daemon=True) for k, cid in enumerate(cams)]
        try:
            for t in threads:
                t.start()
            time.sleep(3)
            got0, t0 = sum(received), time.monotonic()
            cpu, relayed = _relay_cpu(live, seconds)
            span = time.monotonic() - t0
            got = sum(received) - got0
        finally:
            stop.set()
            for t in threads:
                t.join(5)
            live.stop()
    return {"cameras": relayed, "per_camera_core": cpu / span / max(relayed, 1e-9),
            "frames_per_camera_s": got / span / cameras}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-s", type=float, default=30.0, help="seconds of frames for the latency")
    parser.add_argument("--cold", type=int, default=10, help="cold first-frame trials")
    parser.add_argument("--warm", type=int, default=20, help="warm first-frame trials")
    parser.add_argument("--tiles", type=int, default=16, help="live tiles of the soak")
    parser.add_argument("--soak-s", type=float, default=120.0, help="seconds the tiles play")
    parser.add_argument("--relay-s", type=float, default=60.0, help="seconds of the relay-only CPU run (16 cameras)")
    parser.add_argument("--sub", action="store_true",
                        help="the soak's cameras have a 640x360 sub-stream (the 16-tile layout plays it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("alerts", "dashboard", "waitress", "gridwatch", "selenium", "urllib3", "ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="gw-live-bench-") as tmp, EmbeddedRedis() as rserver:
        settings, repo, _ = open_store(Path(tmp), rserver.url, Role.ADMIN)
        client = redis.Redis.from_url(rserver.url)
        driver = browser(Path(tmp) / "chromium")
        try:
            log.info("latency and first frame ...")
            first = latency_and_first_frame(driver, "", settings, repo, client, rserver.url, args.latency_s,
                                            args.cold, args.warm)
            client.delete(keys.CAMERA_INDEX)
            log.info("%d live tiles for %.0f s ...", args.tiles, args.soak_s)
            soaked = soak(driver, settings, repo, client, rserver.url, args.tiles, args.soak_s, args.sub)
        finally:
            driver.quit()
    log.info("relay only, %d cameras for %.0f s ...", args.tiles, args.relay_s)
    alone = relay_only(args.tiles, args.relay_s)
    lat, warm, cold = first["latency"], first["warm"], first["cold"]
    rows: list[str] = []
    rows.append("| measure | p50 | p95 | n |")
    rows.append("| --- | --- | --- | --- |")
    rows.append(f"| glass-to-glass latency, 640x360 25 fps H.264 (ms) | {_pct(lat, 0.5):.0f} | {_pct(lat, 0.95):.0f} | "
          f"{len(lat)} frames |")
    rows.append(f"| time to first frame, warm: the camera already relayed (ms) | {_pct(warm, 0.5):.0f} | "
          f"{_pct(warm, 0.95):.0f} | {len(warm)} |")
    rows.append(f"| time to first frame, cold: RTSP opened on demand (ms) | {_pct(cold, 0.5):.0f} | "
          f"{_pct(cold, 0.95):.0f} | {len(cold)} |")
    s = soaked
    heap = s["heap_mb"]
    rows.append("")
    source = "their 640x360 sub-streams" if args.sub else "1280x720"
    rows.append(f"{s['tiles']} live tiles of 25 fps street footage ({source}) for {s['seconds']:.0f} s "
          f"({s['playing']} playing at the end, the page's budget {s['budget']}):")
    rows.append("")
    rows.append("| measure | value |")
    rows.append("| --- | --- |")
    rows.append(f"| frames presented per second per playing tile (the wall's total / tiles playing) | "
                f"{s['fps']:.1f} |")
    rows.append(f"| stalls (a playing tile's picture still for > 1 s) | {s['stalls']} |")
    rows.append(f"| longest still picture of any tile (ms) | {s['max_still_ms']:.0f} |")
    rows.append(f"| jumps to the live edge | {s['jumps']} |")
    rows.append(f"| relay CPU per relayed camera (% of a core; {s['relayed']:.1f} cameras relayed on average) | "
                f"{100 * s['relay_core_per_tile']:.2f} |")
    rows.append(f"| whole dashboard process (% of a core) | {100 * s['process_core']:.0f} |")
    rows.append(f"| the browser, all its processes (% of a core) | {100 * s['browser_core']:.0f} |")
    if heap[0] is not None:
        rows.append(f"| page JS heap at start / end (MiB) | {heap[0]:.1f} / {heap[1]:.1f} |")
    rows.append("")
    rows.append(f"Relay alone ({alone['cameras']:.0f} cameras of the same footage, one websocket client each, no "
                f"browser): {100 * alone['per_camera_core']:.2f} % of a core per camera, "
                f"{alone['frames_per_camera_s']:.1f} frames/s delivered per camera.")
    sys.stdout.write("\n".join(rows) + f"\n\nLoad average at the end: {os.getloadavg()[0]:.1f} (2 cores).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
