"""The wall's focus tile in headless Chromium, alerts published the real way (database row, then the Redis alerts
stream, pushed to the page): an urgent alarm takes the screen with its camera, the case's grid and position and
its pre-roll clip under its box; Esc releases it (and the same problem seen again does not take the screen back);
D opens its case on the desk; a non-urgent alert only joins the queue; an operator pins a camera to the tile; a
camera without a tile on this wall gets no picture, and says so; the live stream of an RTSP camera plays in the tile
(assets/live.js) and Esc releases it on the server."""
from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from auth_testing import add_user, login_browser
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from test_map_tiles_browser import TileServer
from wall_testing import IN_GRID_2, ingest_alerts

from alerts.repository import Repository
from alerts.workflow import Role
from bench.timecode_source import TimecodeCamera
from dashboard import ids, wall_queries
from dashboard.server import DashboardServer
from gridwatch import keys, media
from gridwatch.events import alert_to_stream
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings, MapSettings, Settings
from gridwatch.types import Alert, CameraState
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "focus-password-1"
# The store_alert fixture's grid (410105001001001), by name from office down, as the demo map names it.
GRID_PATH = "花园路街道 › 纬五路社区 › 纬五路社区第1网格"
OTHER_GRID = "410105001001002"  # where IN_GRID_2 lies
# A loaded 2-core CI machine: the tile opens here within 0.5 s of the stream entry, the clip within a poll (2 s).
TIMEOUT_S = 20

pytestmark = pytest.mark.browser

# What the focus tile shows, read at once.
_FOCUS_JS = """
const r = document.getElementById(arguments[0]);
const q = s => r.querySelector(s);
const box = q('.gw-focus-box svg');
const rect = q('.gw-focus-rect');
return {
  on: r.classList.contains('gw-focus-on') && r.offsetParent !== null, text: r.innerText,
  camera: r.getAttribute('data-focus-camera'), alert: r.getAttribute('data-focus-alert'),
  caseId: r.getAttribute('data-focus-case'),
  preview: q('.gw-focus-preview').naturalWidth > 0 && !!q('.gw-focus-preview').getAttribute('src'),
  previewSrc: q('.gw-focus-preview').getAttribute('src'),
  snapshot: q('.gw-focus-snapshot').naturalWidth,
  clip: q('.gw-focus-clipvideo').getAttribute('src'), clipReady: q('.gw-focus-clipvideo').readyState,
  clipTime: q('.gw-focus-clipvideo').currentTime, clipOn: r.querySelector('.gw-focus-clip-on') !== null,
  viewBox: box && box.getAttribute('viewBox'),
  rect: rect && ['x', 'y', 'width', 'height'].map(k => rect.getAttribute(k)),
  fontPx: parseFloat(getComputedStyle(q('.gw-focus-cat')).fontSize),
  width: r.getBoundingClientRect().width,
};
"""


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--autoplay-policy=no-user-gesture-required",
                            "--window-size=1920,1080")
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


def _focus(driver: webdriver.Chrome) -> dict[str, Any]:
    return dict(driver.execute_script(_FOCUS_JS, ids.FOCUS))


def _wait(driver: webdriver.Chrome, cond: Callable[[webdriver.Chrome], object]) -> Any:
    return WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.1).until(cond)


def _open_wall(browser: webdriver.Chrome, dashboard: DashboardServer, repo: Repository, cameras: int = 2) -> None:
    add_user(repo, "op1", PASSWORD, Role.OPERATOR, display_name="值班员 李明")
    login_browser(browser, dashboard.url, "op1", PASSWORD)
    browser.get(dashboard.url)
    _wait(browser, lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-cam")) == cameras)


def _key(browser: webdriver.Chrome, key: str) -> None:
    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def _assert_console_clean(browser: webdriver.Chrome) -> None:
    """No error or warning in the page's console (a failed frame, a refused clip, a script error)."""
    problems = [e for e in browser.get_log("browser") if e.get("level") in ("WARNING", "SEVERE")]
    assert not problems, problems


def _write_clip(settings: Settings, shared_dir: Path, alert: Alert) -> None:
    """What the clip writer does a few seconds after the alert: the pre-roll clip under media/clips/."""
    path = settings.media_dir / media.clip_relpath(alert.id, alert.detected_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_dir / "video" / "dashcam_highway_640x360.mp4", path)


def test_an_urgent_alarm_takes_the_screen_esc_releases_it_and_d_opens_its_case_on_the_desk(
    dashboard: DashboardServer, store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState],
    jpeg: Callable[..., bytes], browser: webdriver.Chrome, repo: Repository, settings: Settings,
    shared_dir: Path, make_alert: Callable[..., Alert], redis_client: Any,
) -> None:
    assert wall_queries.priority("0502") == 1  # "Urgent": vagrancy and begging, someone may need help
    publish_camera("car-1", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg", 640))
    publish_camera("park-east", "东区公园 东门", preview=jpeg("zidane.jpg", 640))
    _open_wall(browser, dashboard, repo)
    assert not _focus(browser)["on"]

    alarm = store_alert(category="0502", camera_id="car-1", snapshot="bus.jpg")
    shown = _wait(browser, lambda d: (f := _focus(d))["on"] and f["alert"] == alarm.id and f)
    assert shown["camera"] == "car-1"
    for words in ("紧急", "流浪乞讨", "巡逻车 豫A·G2024", GRID_PATH, "34.77250, 113.67200", "正在生成案件",
                  "实时视频", "告警前视频", "D：转受理台", "Esc：关闭"):
        assert words in shown["text"], (words, shown["text"])
    # Readable across the room: the category in type over 40 px; the tile covers video and map, not the queue.
    assert shown["fontPx"] >= 40 and shown["width"] > 1000
    assert browser.find_element(By.CSS_SELECTOR, ".gw-alerts").is_displayed()
    # The camera's picture (its preview frames, the live stream where live.js plays it) and the alert's snapshot
    # under its box, in the snapshot's own pixels.
    shown = _wait(browser, lambda d: (f := _focus(d))["preview"] and f["snapshot"] and f["viewBox"] and f)
    height, width = cv2.imread(str(settings.media_dir / str(alarm.snapshot_url).removeprefix("/media/"))).shape[:2]
    assert shown["viewBox"] == f"0 0 {width} {height}"
    assert shown["rect"] == ["100", "120", "80", "210"]  # the alert's box (100, 120)-(180, 330)
    assert not shown["clip"]  # no clip yet: the clip writer has not finished it

    # The clip is written: the tile finds it and loops it under the box, in the clip's pixels (640 x 360).
    _write_clip(settings, shared_dir, alarm)
    shown = _wait(browser, lambda d: (f := _focus(d))["clipOn"] and f["clipReady"] >= 2 and f)
    assert str(shown["clip"]).endswith(f"/{alarm.id}.mp4") and shown["viewBox"] == "0 0 640 360"
    _wait(browser, lambda d: _focus(d)["clipTime"] > shown["clipTime"] + 0.3)  # it plays
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall_focus_alarm.png"))

    # Esc releases the tile, its camera stream and its clip.
    _key(browser, Keys.ESCAPE)
    released = _wait(browser, lambda d: not (f := _focus(d))["on"] and f)
    assert not released["previewSrc"] and not released["clip"] and not released["camera"]
    assert browser.execute_script("return window.GridWatchFocus.current();") is None

    # The same problem seen again (another camera, the same place): released a moment ago, it stays in the queue.
    same = store_alert(category="0502", camera_id="park-east", snapshot="zidane.jpg")
    _wait(browser, lambda d: d.execute_script("return window.GridWatchFocus.seen(arguments[0]);", same.id))
    assert not _focus(browser)["on"]

    # An alarm at another place: once the case consumer has stored it, D opens its case on the desk.
    again = dataclasses.replace(make_alert(category="0502", camera_id="park-east", grid_code=OTHER_GRID),
                                lat=IN_GRID_2[0], lon=IN_GRID_2[1])
    assert repo.add_alert(again, event_id=f"ev-{again.id}", snapshot_path=None)  # as the alert sink does
    redis_client.xadd(keys.ALERTS_STREAM, alert_to_stream(again))  # type: ignore[arg-type]
    _wait(browser, lambda d: _focus(d)["alert"] == again.id)
    case_id = ingest_alerts(repo, settings, again)[0]
    _wait(browser, lambda d: _focus(d)["caseId"] == case_id)
    assert case_id[:8] in _focus(browser)["text"]
    _key(browser, "d")
    _wait(browser, lambda d: f"/desk?case={case_id}" in d.current_url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'.gw-desk-item-on[data-case-id="{case_id}"]'))
    _wait(browser, lambda d: d.find_elements(By.ID, ids.DESK_ASSIGN))
    assert "流浪乞讨" in browser.find_element(By.ID, ids.DESK_DETAIL).text
    _assert_console_clean(browser)


def test_a_non_urgent_alert_only_joins_the_queue_and_an_operator_pins_a_camera(
    dashboard: DashboardServer, store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState],
    jpeg: Callable[..., bytes], browser: webdriver.Chrome, repo: Repository,
) -> None:
    publish_camera("car-1", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg", 320))
    publish_camera("park-east", "东区公园 东门", preview=jpeg("zidane.jpg", 320))
    _open_wall(browser, dashboard, repo)
    stall = store_alert(category="0503", camera_id="car-1", snapshot="bus.jpg")  # "High", not urgent
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-alert-id="{stall.id}"]'))
    # The queue has it, the focus tile has weighed it too, and stayed closed.
    _wait(browser, lambda d: d.execute_script("return window.GridWatchFocus.seen(arguments[0]);", stall.id))
    assert not _focus(browser)["on"]
    assert browser.execute_script("return window.GridWatchFocus.current();") is None

    # The ⤢ of the park's tile pins its camera: the tile shows it alone, no alert pane, no desk key.
    browser.find_element(By.CSS_SELECTOR, '.gw-cam-pin[data-pin="park-east"]').click()
    pinned = _wait(browser, lambda d: (f := _focus(d))["on"] and f["preview"] and f)
    assert pinned["camera"] == "park-east" and not pinned["alert"]
    assert "固定画面" in pinned["text"] and "东区公园 东门" in pinned["text"]
    assert not browser.find_element(By.CSS_SELECTOR, f"#{ids.FOCUS} .gw-focus-clip").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, f"#{ids.FOCUS} .gw-focus-desk").is_displayed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall_focus_pinned.png"))
    _key(browser, "d")  # nothing to send to the desk: the wall stays
    _key(browser, Keys.ESCAPE)
    _wait(browser, lambda d: not _focus(d)["on"])
    assert browser.current_url.rstrip("/") == dashboard.url.rstrip("/")

    # An alarm from a camera without a tile on this wall (not one this viewer may watch): the tile says so and
    # asks the server for none of its frames.
    stranger = store_alert(category="0502", camera_id="car-9", snapshot="bus.jpg")
    _wait(browser, lambda d: (f := _focus(d))["on"] and f["alert"] == stranger.id)
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.FOCUS} .gw-focus-nolive").is_displayed())
    assert "无画面" in _focus(browser)["text"]
    assert not browser.execute_script(
        "return performance.getEntriesByType('resource').some(e => e.name.indexOf('/video/car-9.jpg') >= 0);")
    _key(browser, Keys.ESCAPE)
    _wait(browser, lambda d: not _focus(d)["on"])
    _assert_console_clean(browser)

    # In English when the wall is: the tile's words come from the page's catalogue.
    browser.get(dashboard.url + "?lang=en")
    _wait(browser, lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '.gw-cam-pin[data-pin="car-1"]'))
    browser.find_element(By.CSS_SELECTOR, '.gw-cam-pin[data-pin="car-1"]').click()
    pinned = _wait(browser, lambda d: (f := _focus(d))["on"] and f)
    assert "Pinned camera" in pinned["text"] and "Live video" in pinned["text"] and "Esc: release" in pinned["text"]
    assert "固定画面" not in pinned["text"]
    assert browser.find_element(By.CSS_SELECTOR, '.gw-cam-pin[data-pin="car-1"]').get_attribute("title") == \
        "Pin to the focus tile"


@pytest.fixture()
def rtsp_camera() -> Iterator[TimecodeCamera]:
    with TimecodeCamera(codec="h264") as cam:
        yield cam


def test_the_alarms_camera_plays_live_in_the_tile_and_esc_releases_its_stream(
    settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
    store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
    browser: webdriver.Chrome, rtsp_camera: TimecodeCamera,
) -> None:
    publish_camera("cam-live", "路口 东", preview=jpeg("bus.jpg", 320))
    camera = CameraSettings.model_validate({"id": "cam-live", "name": "路口 东", "url": rtsp_camera.url})
    dashboard = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0,
                                cameras={"cam-live": camera}.get).start()
    try:
        live = dashboard.live
        assert live is not None
        add_user(repo, "op1", PASSWORD, Role.OPERATOR)
        login_browser(browser, dashboard.url, "op1", PASSWORD)
        browser.get(dashboard.url)
        _wait(browser, lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))
        _wait(browser, lambda _d: live.upstreams().get("cam-live") == 1)  # the wall's own tile plays it

        store_alert(category="0502", camera_id="cam-live", snapshot="bus.jpg")
        video = f"#{ids.FOCUS} video.gw-focus-video"
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.FOCUS} .gw-focus-live-on"))
        # The camera's own picture (640 x 360, not the 320-wide preview), playing: the tile's second viewer.
        size = browser.execute_script(
            "const v = document.querySelector(arguments[0]); return [v.videoWidth, v.videoHeight, v.currentTime];",
            video)
        assert size[:2] == [640, 360]
        _wait(browser, lambda d: d.execute_script(
            "return document.querySelector(arguments[0]).currentTime;", video) > size[2] + 0.5)
        assert browser.find_element(By.CSS_SELECTOR, video).is_displayed()
        assert live.upstreams().get("cam-live") == 2
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "wall_focus_live.png"))

        _key(browser, Keys.ESCAPE)
        _wait(browser, lambda d: not _focus(d)["on"])
        _wait(browser, lambda _d: live.upstreams().get("cam-live") == 1)  # the tile's stream stays, the focus's went
        _assert_console_clean(browser)
    finally:
        dashboard.stop()


def test_a_wall_pc_whose_clock_is_an_hour_fast_still_takes_its_alarms(
    dashboard: DashboardServer, store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState],
    jpeg: Callable[..., bytes], browser: webdriver.Chrome, repo: Repository,
) -> None:
    """Alert ages are reckoned on the server's clock: by this browser's own, every alarm would look an hour old and
    be ignored as a replay."""
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "(function () { var real = Date.now; Date.now = function () { return real() + 3600 * 1000; }; })();")})
    publish_camera("car-1", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg", 320))
    _open_wall(browser, dashboard, repo, cameras=1)
    assert browser.execute_script("return Date.now() - new Date().getTime();") > 3500 * 1000  # the clock is off
    alarm = store_alert(category="0502", camera_id="car-1", snapshot="bus.jpg")
    _wait(browser, lambda d: (f := _focus(d))["on"] and f["alert"] == alarm.id)


# Whether the focus tile is what the viewer sees at each point of an element (the top element there is in it).
_COVERED_JS = """
const r = document.querySelector(arguments[0]).getBoundingClientRect();
const points = [[0.5, 0.5], [0.05, 0.05], [0.95, 0.05], [0.05, 0.95], [0.95, 0.95]];
return points.map(([x, y]) => {
  const top = document.elementFromPoint(r.left + x * r.width, r.top + y * r.height);
  return !!top && !!top.closest('#' + arguments[1]);
});
"""


def test_the_tile_covers_the_tiled_map_too(
    settings: Settings, repo: Repository, redis_client: Any, redis_server: EmbeddedRedis,
    store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
    browser: webdriver.Chrome,
) -> None:
    """Leaflet's panes and controls carry z-indexes up to 1000: the map must not show through the alarm."""
    publish_camera("car-1", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg", 320))
    tiles = TileServer()
    tiled = settings.model_copy(update={"map": MapSettings(tiles_url=tiles.url, attribution="© test tiles")})
    dashboard = DashboardServer(tiled, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    try:
        _open_wall(browser, dashboard, repo, cameras=1)
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-container .leaflet-control-zoom"))
        store_alert(category="0502", camera_id="car-1", snapshot="bus.jpg")
        _wait(browser, lambda d: _focus(d)["on"])
        for part in (".leaflet-container", ".leaflet-control-zoom", ".gw-video-panel"):
            assert all(browser.execute_script(_COVERED_JS, part, ids.FOCUS)), part
    finally:
        dashboard.stop()
        tiles.close()
