"""Benchmark of issue 17's alarm focus tile: an urgent alert published -> its focus tile on screen (headless Chromium).

    .venv/bin/python -m bench.focus_bench                  # Markdown table on stdout, progress on stderr
    .venv/bin/python -m bench.focus_bench --alarms 20 --alerts 300 --gap 1.0
    .venv/bin/python -m bench.focus_bench --live           # every alarm from an RTSP camera, played live in the tile

The scene is bench.wall_bench's, all real and local: a private redis-server, a migrated SQLite database with the
demo grid map and ``--alerts`` alerts of today in open cases, 16 cameras whose preview JPEGs change at 5 fps, the
real DashboardServer (waitress + push websocket), Debian's chromium/chromedriver logged in through /login, one
1920x1080 wall with its 16 tiles playing.

Each alarm is stored as the alert sink stores it (the row, then the entry on the Redis alerts stream) for a
category the wall ranks urgent, from one of the 16 cameras; the clock starts at the stream entry. Measured in the
page (epoch ms, same machine): when the focus tile was on screen (assets/focus.js: the second animation frame after
it was laid out), when it showed its camera's first frame, and when the alert's item reached the queue (for
comparison, the push path alone); with --live, also its first live frame (live.js's player: the relay's
fragmented MP4 from the camera's next keyframe, into Media Source Extensions). Esc releases the tile before the next
alarm.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import redis
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from alerts.workflow import Role
from bench.timecode_source import TimecodeCamera
from bench.wall_bench import Cameras, _jpeg, _pct, _random_point, _step, browser, login, open_store, open_wall, seed
from dashboard import wall_queries
from dashboard.server import DashboardServer
from gridwatch import keys
from gridwatch.events import alert_to_stream
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings
from gridwatch.types import Alert

log = logging.getLogger("bench.focus")

WAIT_S = 15.0  # an alarm whose tile is not on screen by then counts as missed
_SHOWN_JS = ("var f = window.GridWatchFocus, id = arguments[0]; return [f.shownAt(id), f.frameAt(id),"
             " (window.__gwSeen || {})[id] || null, f.liveAt(id)];")


def _urgent_category() -> str:
    return next(code for code, prio in sorted(wall_queries.PRIORITIES.items()) if prio == 1)


def _measured(alert_id: str, live: bool) -> Callable[[webdriver.Chrome], bool]:
    """True once the page has every time of ``alert_id`` (tile on screen, its first frame, queue item; with
    ``live`` its first live frame too)."""
    return lambda d: all(d.execute_script(_SHOWN_JS, alert_id)[:4 if live else 3])


def _row(label: str, values: Sequence[float], n: int) -> str:
    if not values:
        return f"| {label} | none of {n} |"
    return (f"| {label} | {_pct(values, 0.5):.0f} / {_pct(values, 0.95):.0f} / {max(values):.0f} ms "
            f"({len(values)} of {n}) |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alarms", type=int, default=20, help="urgent alerts published, one at a time")
    parser.add_argument("--alerts", type=int, default=300, help="open alerts (and their cases) of today on the wall")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between releasing a tile and the next alarm")
    parser.add_argument("--live", action="store_true",
                        help="every alarm from one RTSP camera (a time-code stream, H.264 25 fps) played live in the "
                             "tile through live.js; also measures its first live frame")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("alerts", "dashboard", "waitress", "gridwatch", "selenium", "urllib3", "ingest", "bench.wall"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    category = _urgent_category()
    rng = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="gw-focus-bench-") as tmp, EmbeddedRedis() as rserver, \
            contextlib.ExitStack() as stack:
        rtsp = stack.enter_context(TimecodeCamera(codec="h264")) if args.live else None
        root = Path(tmp)
        settings, repo, features = open_store(root, rserver.url, Role.OPERATOR)
        client = redis.Redis.from_url(rserver.url)
        with _step(f"seeding {args.alerts} alerts into cases"):
            seed(repo, client, settings.media_dir, features, args.alerts, 0, settings)
        cams = Cameras(client).start()
        # --live: the first camera is the RTSP one (its tile on the wall plays it too); else previews only.
        rtsp_cameras = {} if rtsp is None else {cams.ids[0]: CameraSettings.model_validate(
            {"id": cams.ids[0], "name": cams.ids[0], "url": rtsp.url})}
        server = DashboardServer(settings, repo, client, rserver.url, port=0, ws_port=0,
                                 cameras=rtsp_cameras.get).start()
        driver = browser(root / "chromium")
        leaves = [f for f in features if f.level == 3]
        snapshot = _jpeg("bus.jpg", 480)
        shown: list[float] = []
        framed: list[float] = []
        queued: list[float] = []
        lived: list[float] = []
        try:
            with _step("browser, login, the wall with 16 tiles playing"):
                login(driver, server.url)
                open_wall(driver, server.url)
            with _step(f"{args.alarms} urgent alarms"):
                for i in range(args.alarms):
                    grid = rng.choice(leaves)
                    lat, lon = _random_point(rng, grid)
                    camera_id = cams.ids[0 if args.live else i % len(cams.ids)]
                    alert = Alert(id=uuid.uuid4().hex, camera_id=camera_id, category=category,
                                  confidence=0.9, detected_at=datetime.now(UTC), lat=lat, lon=lon,
                                  grid_code=grid.code, snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0),
                                  track_id=50_000 + i)
                    rel = f"snapshots/focus-bench/{alert.id}.jpg"
                    (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                    (settings.media_dir / rel).write_bytes(snapshot)
                    alert = dataclasses.replace(alert, snapshot_url="/media/" + rel)
                    repo.add_alert(alert, event_id=f"focus-{alert.id}", snapshot_path=rel)
                    t0 = time.time() * 1000
                    client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]
                    try:
                        WebDriverWait(driver, WAIT_S, poll_frequency=0.02).until(_measured(alert.id, args.live))
                    except Exception:  # noqa: BLE001 - a missed alarm is counted, not fatal
                        log.warning("alarm %d: the focus tile did not show within %.0f s", i, WAIT_S)
                    at_shown, at_frame, at_queue, at_live = driver.execute_script(_SHOWN_JS, alert.id)
                    for bucket, at in ((shown, at_shown), (framed, at_frame), (queued, at_queue), (lived, at_live)):
                        if at:
                            bucket.append(float(at) - t0)
                    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
                    WebDriverWait(driver, WAIT_S).until(
                        lambda d: d.execute_script("return window.GridWatchFocus.current();") is None)
                    time.sleep(args.gap)
        finally:
            driver.quit()
            server.stop()
            cams.stop()
            client.close()
            repo.engine.dispose()
    n = args.alarms
    lines = [f"Focus tile, {n} urgent alarms ({category}) on a 1920x1080 wall with 16 tiles at 5 fps and "
             f"{args.alerts} open alerts; p50 / p95 / max from the stream entry:", "",
             "| alarm published (row + stream entry) -> | p50 / p95 / max |", "| --- | --- |",
             _row("its item in the queue (the push path alone)", queued, n),
             _row("**focus tile on screen**", shown, n),
             _row("its camera's first frame in the focus tile", framed, n)]
    if args.live:
        lines.append(_row("its camera's first live frame (RTSP, relay, MSE) in the focus tile", lived, n))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if len(shown) == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
