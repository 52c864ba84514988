"""The wall in headless Chromium: a new alert is pushed onto the open page, without a reload."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard import ids
from dashboard.push import PushServer
from dashboard.server import DashboardServer
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.types import Alert, CameraState, CameraStatus

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMEDRIVER} not found: install Debian's chromium-driver")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1920,1080", f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def test_new_alert_is_pushed_onto_the_open_wall(
    dashboard: DashboardServer,
    store_alert: Callable[..., Alert],
    publish_camera: Callable[..., CameraState],
    jpeg: Callable[..., bytes],
    browser: webdriver.Chrome,
    redis_server: EmbeddedRedis,
) -> None:
    publish_camera("demo-car", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg"))
    publish_camera("park-east", "东区公园 东门", preview=jpeg("streetview_people_sitting_park.jpg"))
    publish_camera("car-3", "巡逻车 豫A·K7311", preview=jpeg("zidane.jpg"))
    publish_camera("car-4", "巡逻车 豫A·P0452", CameraStatus.OFFLINE, age_s=95.0)
    now = datetime.now(UTC)
    midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)

    def ago(minutes: int) -> datetime:  # earlier today, even just after midnight (the count is per day)
        return max(now - timedelta(minutes=minutes), midnight.astimezone(UTC))

    park = "streetview_people_sitting_park.jpg"
    store_alert(detected_at=ago(41), category="0507", camera_id="park-east", snapshot=park)
    store_alert(detected_at=ago(17), category="0501", camera_id="car-3", snapshot="zidane.jpg",
                grid_code="410105001001002")
    store_alert(detected_at=ago(3), category="0502", camera_id="demo-car", snapshot="bus.jpg")

    # The wall is a 1920x1080 screen: size the page itself, not the headless window around it.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    browser.get(dashboard.url)
    wait = WebDriverWait(browser, 15)
    wait.until(lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-alert")) == 3)
    assert browser.find_element(By.ID, ids.TODAY_COUNT).text == "3"
    browser.execute_script("window.__noReload = 1;"
                           "document.querySelectorAll('img.gw-cam-img').forEach(i => { i.__gwKept = 1; });")

    alert = store_alert(category="0503", camera_id="demo-car", snapshot=park, confidence=0.91)

    selector = f'[data-alert-id="{alert.id}"]'
    WebDriverWait(browser, 2, poll_frequency=0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    item = browser.find_element(By.CSS_SELECTOR, selector)
    assert "占道经营" in item.text
    assert "occupying the road for business" in item.text
    assert "巡逻车 豫A·G2024" in item.text  # the camera's name, not its id
    first = browser.find_elements(By.CSS_SELECTOR, ".gw-alert")[0]
    assert first.get_attribute("data-alert-id") == alert.id  # newest first
    assert browser.execute_script("return window.__noReload;") == 1  # pushed, not reloaded
    WebDriverWait(browser, 2).until(lambda d: d.find_element(By.ID, ids.TODAY_COUNT).text == "4")

    # The video tiles stream: each <img> has decoded a frame from its MJPEG feed.
    WebDriverWait(browser, 5).until(lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('img.gw-cam-img')).every(i => i.naturalWidth > 0);"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall.png"))

    # Camera states refresh in place: the badge follows Redis while each video <img> (and its stream) stays.
    publish_camera("car-4", "巡逻车 豫A·P0452", preview=jpeg("bus.jpg", 320))
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, ids.CAMERAS_ONLINE).text == "4/4")
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('img.gw-cam-img')).every(i => i.__gwKept === 1);")
    # A camera that starts publishing later gets its own tile without a reload.
    publish_camera("car-5", "巡逻车 豫A·T9901", CameraStatus.STARTING)
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-cam")) == 5)
    tiles = {t.find_element(By.CSS_SELECTOR, ".gw-cam-name").text: t.text
             for t in browser.find_elements(By.CSS_SELECTOR, ".gw-cam")}
    assert "启动中 starting" in tiles["巡逻车 豫A·T9901"]
    assert browser.execute_script("return window.__noReload;") == 1

    # The push server goes away: the wall says so, reconnects with backoff, and gets what it missed.
    ws_port = dashboard.push.port
    dashboard.push.stop()
    WebDriverWait(browser, 10).until(
        lambda d: "connection lost" in d.find_element(By.ID, ids.CONNECTION).text)
    missed = store_alert(category="0504", camera_id="park-east")
    replacement = PushServer(redis_server.url, port=ws_port).start()
    try:
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-alert-id="{missed.id}"]'))
        assert "店外经营" in browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{missed.id}"]').text
        WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, ids.CONNECTION).text.endswith("live"))
        assert browser.execute_script("return window.__noReload;") == 1
    finally:
        replacement.stop()
