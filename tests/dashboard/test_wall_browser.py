"""The wall in headless Chromium: Chinese by default with real CJK glyphs, China time whatever the browser's
zone, a new alert pushed onto the open page without a reload, one queue item per problem (its open case) however
often it is seen, and English by the switch, remembered."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from auth_testing import ensure_user, login_browser
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from wall_testing import IN_GRID_1, IN_GRID_2, ingest_alerts, open_case, overdue_case

from alerts.cases import CaseService
from alerts.repository import Repository
from dashboard import ids
from dashboard.push import PushServer
from dashboard.server import DashboardServer
from geo.routing import GridRouter
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings
from gridwatch.types import Alert, CameraState, CameraStatus
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHINA = ZoneInfo("Asia/Shanghai")
# The browser runs in another zone on purpose: the wall must show China time, not the browser's.
BROWSER_ZONE = "America/New_York"

pytestmark = pytest.mark.browser

# Draws two different Chinese characters in the page's own font and compares them: real glyphs differ
# and have ink, a missing font gives blank or identical "tofu" boxes.
_GLYPHS_DIFFER_JS = """
const el = document.querySelector(arguments[0]);
const family = getComputedStyle(el).fontFamily;
const canvas = document.createElement('canvas');
canvas.width = 64; canvas.height = 64;
const ctx = canvas.getContext('2d', {willReadFrequently: true});
function ink(ch) {
  ctx.clearRect(0, 0, 64, 64);
  ctx.fillStyle = '#000';
  ctx.font = '48px ' + family;
  ctx.fillText(ch, 4, 52);
  return Array.from(ctx.getImageData(0, 0, 64, 64).data.filter((v, i) => i % 4 === 3));
}
const a = ink('占'), b = ink('道');
const inkA = a.filter(v => v > 128).length, inkB = b.filter(v => v > 128).length;
const differ = a.some((v, i) => Math.abs(v - b[i]) > 128);
return {family: family, inkA: inkA, inkB: inkB, differ: differ,
        fontReady: document.fonts.check('48px "Noto Sans CJK SC"', '占道经营')};
"""


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--lang=en-US", "--window-size=1920,1080")
    try:
        # The wall is a 1920x1080 screen: size the page itself, not the headless window around it.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
        yield driver
    finally:
        driver.quit()


def _text(browser: webdriver.Chrome, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def _wait_live(browser: webdriver.Chrome, timeout: float = 15) -> None:
    WebDriverWait(browser, timeout).until(
        lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))


def _grey(browser: webdriver.Chrome, selector: str) -> bool:
    return "grayscale" in str(browser.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).filter;", selector))


def _check_chinese_glyphs(browser: webdriver.Chrome, selector: str) -> None:
    glyphs = browser.execute_script(_GLYPHS_DIFFER_JS, selector)
    assert "Noto Sans CJK SC" in glyphs["family"]
    assert glyphs["fontReady"], "the page's CJK font is not available to the browser"
    assert glyphs["inkA"] > 150 and glyphs["inkB"] > 150, glyphs  # a 48 px Han character has plenty of ink
    assert glyphs["differ"], "two different characters drew the same shape: boxes, not glyphs"


def test_wall_in_chinese_pushes_alerts_in_china_time_and_switches_to_english(
    dashboard: DashboardServer,
    store_alert: Callable[..., Alert],
    publish_camera: Callable[..., CameraState],
    jpeg: Callable[..., bytes],
    browser: webdriver.Chrome,
    redis_server: EmbeddedRedis,
    repo: Repository,
    settings: Settings,
) -> None:
    publish_camera("demo-car", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg"))
    publish_camera("park-east", "东区公园 东门", preview=jpeg("streetview_people_sitting_park.jpg"))
    publish_camera("car-3", "巡逻车 豫A·K7311", preview=jpeg("zidane.jpg"))
    publish_camera("car-4", "巡逻车 豫A·P0452", CameraStatus.OFFLINE, age_s=95.0)
    now = datetime.now(UTC)
    midnight = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)

    def ago(minutes: int) -> datetime:  # earlier today in China, even just after midnight (the count is per day)
        return max(now - timedelta(minutes=minutes), midnight.astimezone(UTC))

    park = "streetview_people_sitting_park.jpg"
    earlier = [store_alert(detected_at=ago(41), category="0507", camera_id="park-east", snapshot=park),
               store_alert(detected_at=ago(17), category="0501", camera_id="car-3", snapshot="zidane.jpg",
                           grid_code="410105001001002"),
               store_alert(detected_at=ago(3), category="0502", camera_id="demo-car", snapshot="bus.jpg")]
    begging = ingest_alerts(repo, settings, *earlier)[2]  # the case consumer: three problems, three cases

    # A newcomer switches nothing (and their browser asks for English): the wall is in Chinese.
    ensure_user(repo)
    login_browser(browser, dashboard.url, "tester")
    browser.get(dashboard.url)
    wait = WebDriverWait(browser, 30)
    _wait_live(browser)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-alert")) == 3)
    # A queue item: priority, category, snapshot, grid (by name) and age.
    item = browser.find_element(By.CSS_SELECTOR, f'[data-case-id="{begging}"]')
    # (its grid as the case was routed from its position, by name)
    assert "紧急" in item.text and "流浪乞讨" in item.text and "农业路社区第3网格" in item.text
    assert "分钟前" in item.text or "现在" in item.text  # 3 minutes ago (or just now, right after midnight)
    assert item.find_element(By.CSS_SELECTOR, "img.gw-alert-thumb").get_attribute("src").endswith(".jpg")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert browser.title == "GridWatch 网格指挥中心"
    header = browser.find_element(By.CSS_SELECTOR, ".gw-header").text
    for label in ("GridWatch 网格指挥中心", "今日告警", "在线摄像头", "● 实时", "中国时间"):
        assert label in header
    panels = browser.find_element(By.CSS_SELECTOR, ".gw-main").text
    assert "实时视频" in panels and "实时告警" in panels
    assert _text(browser, ids.TODAY_COUNT) == "3"
    tiles = {t.find_element(By.CSS_SELECTOR, ".gw-cam-name").text: t.text
             for t in browser.find_elements(By.CSS_SELECTOR, ".gw-cam")}
    assert "在线" in tiles["巡逻车 豫A·G2024"] and "帧/秒" in tiles["巡逻车 豫A·G2024"]
    assert "离线" in tiles["巡逻车 豫A·P0452"] and "最后一帧" in tiles["巡逻车 豫A·P0452"]
    browser.execute_script("window.__noReload = 1;"
                           "document.querySelectorAll('img.gw-cam-img').forEach(i => { i.__gwKept = 1; });")

    alert = store_alert(category="0503", camera_id="demo-car", snapshot=park, confidence=0.91)

    selector = f'[data-alert-id="{alert.id}"]'
    # Pushed (the page is not reloaded, checked below); how fast is bench.wall_bench's, so a loaded CI gets 10 s.
    WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    item = browser.find_element(By.CSS_SELECTOR, selector)
    assert "占道经营" in item.text
    assert "occupying the road" not in item.text
    assert "巡逻车 豫A·G2024" in item.text  # the camera's name, not its id
    assert "91%" in item.text
    # China time (UTC+8), although the browser's clock is in New York.
    assert alert.detected_at.astimezone(CHINA).strftime("%H:%M:%S") in item.text
    first = browser.find_elements(By.CSS_SELECTOR, ".gw-alert")[0]
    assert first.get_attribute("data-alert-id") == alert.id  # newest first
    # The case consumer makes its case: the next summary's item takes the pushed one's place (no second item).
    stall = ingest_alerts(repo, settings, alert)[0]
    selector = f'[data-case-id="{stall}"]'
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-alert")) == 4)
    assert browser.find_elements(By.CSS_SELECTOR, ".gw-alert")[0].get_attribute("data-case-id") == stall
    assert browser.execute_script("return window.__noReload;") == 1  # pushed, not reloaded
    WebDriverWait(browser, 10).until(lambda d: _text(d, ids.TODAY_COUNT) == "4")
    clock = _text(browser, ids.CLOCK)
    china_now = datetime.now(UTC).astimezone(CHINA)
    assert clock.startswith(china_now.strftime("%Y-%m-%d")) or clock.startswith(
        (china_now - timedelta(seconds=5)).strftime("%Y-%m-%d"))
    assert "周" in clock  # the weekday, in Chinese

    _check_chinese_glyphs(browser, ".gw-cat")
    # The video tiles stream: each <img> has decoded a frame from its MJPEG feed.
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('img.gw-cam-img')).every(i => i.naturalWidth > 0);"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall_zh.png"))

    # Camera states refresh in place: the badge follows Redis while each video <img> (and its stream) stays.
    publish_camera("car-4", "巡逻车 豫A·P0452", preview=jpeg("bus.jpg", 320))
    WebDriverWait(browser, 10).until(lambda d: _text(d, ids.CAMERAS_ONLINE) == "4/4")
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('img.gw-cam-img')).every(i => i.__gwKept === 1);")
    # A camera that starts publishing later gets its own tile without a reload.
    publish_camera("car-5", "巡逻车 豫A·T9901", CameraStatus.STARTING)
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gw-cam")) == 5)
    tiles = {t.find_element(By.CSS_SELECTOR, ".gw-cam-name").text: t.text
             for t in browser.find_elements(By.CSS_SELECTOR, ".gw-cam")}
    assert "启动中" in tiles["巡逻车 豫A·T9901"]
    assert browser.execute_script("return window.__noReload;") == 1

    # The push server goes away: the wall says so, reconnects with backoff, and gets what it missed.
    ws_port = dashboard.push.port
    banner = browser.find_element(By.ID, ids.LOST_BANNER)
    assert not banner.is_displayed()
    dashboard.push.stop()
    WebDriverWait(browser, 10).until(lambda d: "连接中断" in _text(d, ids.CONNECTION))
    # Not stale data in silence: a red banner across the top, and the queue and figures greyed out.
    WebDriverWait(browser, 30).until(lambda d: banner.is_displayed())
    assert "连接中断" in banner.text and "可能已过时" in banner.text
    assert _grey(browser, ".gw-alerts") and _grey(browser, ".gw-figures")
    missed = store_alert(category="0504", camera_id="park-east")
    assert browser.save_screenshot(str(ARTIFACTS / "wall_connection_lost.png"))
    assert not browser.find_elements(By.CSS_SELECTOR, f'[data-alert-id="{missed.id}"]')
    replacement = PushServer(redis_server.url, port=ws_port).start()
    try:
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-alert-id="{missed.id}"]'))
        assert "店外经营" in browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{missed.id}"]').text
        missed_case = ingest_alerts(repo, settings, missed)[0]  # the consumer catches up too
        WebDriverWait(browser, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-case-id="{missed_case}"]'))
        WebDriverWait(browser, 30).until(lambda d: _text(d, ids.CONNECTION) == "● 实时")
        WebDriverWait(browser, 30).until(lambda d: not banner.is_displayed())
        assert not _grey(browser, ".gw-alerts")
        assert browser.execute_script("return window.__noReload;") == 1

        # The switch: English, the same alerts and figures, and the choice is remembered by this browser.
        browser.find_element(By.CSS_SELECTOR, '.gw-lang a[hreflang="en"]').click()
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
        _wait_live(browser)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-case-id="{missed_case}"]'))
        assert browser.title == "GridWatch Command Centre"
        header = browser.find_element(By.CSS_SELECTOR, ".gw-header").text
        for label in ("GridWatch Command Centre", "Alerts today", "Cameras online", "● Live", "China Time"):
            assert label in header
        assert "今日告警" not in header
        item = browser.find_element(By.CSS_SELECTOR, selector)
        assert "occupying the road for business" in item.text and "占道经营" not in item.text
        assert alert.detected_at.astimezone(CHINA).strftime("%H:%M:%S") in item.text
        tiles = {t.find_element(By.CSS_SELECTOR, ".gw-cam-name").text: t.text
                 for t in browser.find_elements(By.CSS_SELECTOR, ".gw-cam")}
        assert "Online" in tiles["巡逻车 豫A·G2024"] and "4.9 fps" in tiles["巡逻车 豫A·G2024"]
        assert "Starting" in tiles["巡逻车 豫A·T9901"]
        assert _text(browser, ids.TODAY_COUNT) == "5"
        # The old page's video streams ended when it was left, so all five tiles play again.
        WebDriverWait(browser, 10).until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('img.gw-cam-img')).every(i => i.naturalWidth > 0);"))
        assert browser.save_screenshot(str(ARTIFACTS / "wall_en.png"))

        browser.get(dashboard.url)  # no ?lang=: the cookie answers
        WebDriverWait(browser, 30).until(lambda d: "Alerts today" in d.find_element(By.CSS_SELECTOR, ".gw-header").text)
        browser.find_element(By.CSS_SELECTOR, '.gw-lang a[hreflang="zh-CN"]').click()
        WebDriverWait(browser, 30).until(lambda d: "今日告警" in d.find_element(By.CSS_SELECTOR, ".gw-header").text)
    finally:
        replacement.stop()


def _item(browser: webdriver.Chrome, selector: str) -> dict[str, str] | None:
    """A queue item's text, sightings and classes, read at once (a new sighting or summary redraws it)."""
    found: dict[str, str] | None = browser.execute_script(
        "const n = document.querySelector(arguments[0]);"
        "return n && {text: n.innerText, sightings: n.getAttribute('data-sightings'), cls: n.className};", selector)
    return found


def test_three_sightings_of_one_problem_are_one_queue_item_counted_and_highlighted(
    dashboard: DashboardServer, store_alert: Callable[..., Alert], browser: webdriver.Chrome, repo: Repository,
    settings: Settings,
) -> None:
    first = store_alert(detected_at=datetime.now(UTC) - timedelta(minutes=10), category="0502",
                        camera_id="demo-car", snapshot="bus.jpg")
    case_id = ingest_alerts(repo, settings, first)[0]
    _login(browser, dashboard, repo)
    item_at = f'[data-case-id="{case_id}"]'
    WebDriverWait(browser, 30).until(lambda d: _item(d, item_at))
    assert "×" not in (_item(browser, item_at) or {})["text"]  # seen once: no count
    browser.execute_script("window.__noReload = 1;")

    # The patrol car passes the same place twice more: each pushed sighting bumps the one item at once.
    later = []
    for lap in (2, 3):
        later.append(store_alert(category="0502", camera_id="demo-car", snapshot="bus.jpg"))
        WebDriverWait(browser, 30).until(lambda d, n=lap: (_item(d, item_at) or {}).get("sightings") == str(n))
        assert len(browser.find_elements(By.CSS_SELECTOR, ".gw-alert")) == 1
    item = _item(browser, item_at) or {}
    assert "×3" in item["text"] and "流浪乞讨" in item["text"]
    assert "gw-alert-new" in item["cls"]  # highlighted for a moment
    # The case consumer stores them on the case (the summaries from now on bring it with 3 sightings).
    assert ingest_alerts(repo, settings, *later) == [case_id, case_id]
    # A patrol car passes later facing the place and sees nothing there: the item says 现场复查: 已无.
    service = CaseService(repo.engine, GridRouter(repo.list_grids(), settings.cases.fallback_grid), settings.cases)
    assert service.record_clear_pass(case_id, "demo-car", datetime.now(UTC), lat=first.lat, lon=first.lon)
    WebDriverWait(browser, 30).until(lambda d: "现场复查: 已无" in (_item(d, item_at) or {}).get("text", ""))
    item = _item(browser, item_at) or {}
    assert "×3" in item["text"] and item["sightings"] == "3"
    assert len(browser.find_elements(By.CSS_SELECTOR, ".gw-alert")) == 1
    assert browser.execute_script("return window.__noReload;") == 1


# --- the grid map and the day's figures --------------------------------------------------------------

RED, YELLOW, GREEN = "rgb(244, 63, 94)", "rgb(245, 158, 11)", "rgb(34, 197, 94)"

# Each filled grid of the map: its fill colour and the name written in it (traces in the same order).
_MAP_FILLS_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd ? Array.from(gd.querySelectorAll('path.js-fill')).map(p => p.style.fill) : [];
"""
_MAP_LABELS_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd ? Array.from(gd.querySelectorAll('.textpoint text')).map(t => t.textContent) : [];
"""


def _fills(browser: webdriver.Chrome) -> list[str]:
    return list(browser.execute_script(_MAP_FILLS_JS, ids.MAP_GRAPH))


def _labels(browser: webdriver.Chrome) -> list[str]:
    return list(browser.execute_script(_MAP_LABELS_JS, ids.MAP_GRAPH))


def _click_label(browser: webdriver.Chrome, name: str) -> None:
    """A real mouse click on a grid's name on the map (Plotly turns it into clickData)."""
    for text in browser.find_elements(By.CSS_SELECTOR, f"#{ids.MAP_GRAPH} .textpoint text"):
        if text.text == name:
            ActionChains(browser).move_to_element(text).click().perform()
            return
    raise AssertionError(f"no grid named {name!r} on the map: {_labels(browser)}")


def _login(browser: webdriver.Chrome, dashboard: DashboardServer, repo: Repository) -> None:
    ensure_user(repo)
    login_browser(browser, dashboard.url, "tester")
    browser.get(dashboard.url)
    _wait_live(browser)


def test_map_coloured_by_cases_zooms_into_grids_and_figures_follow_new_cases(
    dashboard: DashboardServer, browser: webdriver.Chrome, repo: Repository, settings: Settings,
) -> None:
    overdue_case(repo, settings, IN_GRID_2)  # a month old, dispatched, never handled: red
    open_case(repo, settings, IN_GRID_1)  # reported today: yellow
    _login(browser, dashboard, repo)
    WebDriverWait(browser, 10).until(lambda d: len(_fills(d)) == 2)
    # The offices: 花园路街道 has the overdue case (red), 丰产路街道 none (green).
    assert _labels(browser) == ["花园路街道", "丰产路街道"]
    assert _fills(browser) == [RED, GREEN]
    assert _text(browser, ids.figure_id("collected")) == "1"  # today's cases only
    assert _text(browser, ids.figure_id("overdue_now")) == "1"
    assert _text(browser, ids.figure_id("closure_rate")) == "—"
    assert "未结案件 2" in _text(browser, ids.MAP_TOTALS)
    figures = browser.find_element(By.ID, ids.FIGURES).text
    for label in ("采集", "已派遣", "已上报", "已结案", "结案率", "当前超期"):
        assert label in figures

    # A new case (as the case consumer or a phone report makes it) shows up without a reload.
    browser.execute_script("window.__noReload = 1;")
    open_case(repo, settings, IN_GRID_1, category="0501")
    WebDriverWait(browser, 5, poll_frequency=0.1).until(lambda d: _text(d, ids.figure_id("collected")) == "2")
    WebDriverWait(browser, 5).until(lambda d: "未结案件 3" in _text(d, ids.MAP_TOTALS))

    # Click an office: its communities; click a community: its grids, each coloured by its own cases.
    _click_label(browser, "花园路街道")
    WebDriverWait(browser, 10).until(lambda d: _labels(d) == ["纬五路社区", "农业路社区"])
    assert _fills(browser) == [RED, GREEN]
    _click_label(browser, "纬五路社区")
    WebDriverWait(browser, 10).until(lambda d: len(_labels(d)) == 4)
    assert _fills(browser) == [YELLOW, RED, GREEN, GREEN]
    crumbs = _text(browser, ids.MAP_CRUMBS)
    assert "全辖区" in crumbs and "花园路街道" in crumbs and "纬五路社区" in crumbs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall_map_zoomed.png"))
    # Back to the whole territory by the crumb bar.
    browser.find_element(By.XPATH, f"//nav[@id='{ids.MAP_CRUMBS}']/button[1]").click()
    WebDriverWait(browser, 10).until(lambda d: _labels(d) == ["花园路街道", "丰产路街道"])
    assert browser.execute_script("return window.__noReload;") == 1


# --- video tiles: 1/4/9/16 layouts and paging ----------------------------------------------------------

def _visible_tiles(browser: webdriver.Chrome) -> list[str]:
    return [t.find_element(By.CSS_SELECTOR, ".gw-cam-name").text
            for t in browser.find_elements(By.CSS_SELECTOR, ".gw-cam") if t.is_displayed()]


def _choose_layout(browser: webdriver.Chrome, n: int) -> None:
    for label in browser.find_elements(By.CSS_SELECTOR, f"#{ids.TILE_LAYOUT} label"):
        if label.text.strip() == str(n):
            label.click()
            return
    raise AssertionError(f"no layout {n}")


_FRAMES_JS = """
return Array.from(document.querySelectorAll('img.gw-cam-img')).filter(i => i.offsetParent !== null)
  .map(i => [i.getAttribute('data-camera'), i.naturalWidth, i.src]);
"""


def test_sixteen_tiles_all_play_and_page_through_more_cameras(
    dashboard: DashboardServer, browser: webdriver.Chrome, repo: Repository,
    publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
) -> None:
    frame = jpeg("bus.jpg", 320)
    names = [f"路口 {i:02d}" for i in range(1, 21)]
    for i, name in enumerate(names, 1):
        publish_camera(f"cam-{i:02d}", name, preview=frame)
    _login(browser, dashboard, repo)
    # Twenty cameras: sixteen tiles on the first page, and every one of them plays (more than the six
    # connections a browser keeps per server: tiles poll single frames instead of holding MJPEG streams).
    WebDriverWait(browser, 10).until(lambda d: len(_visible_tiles(d)) == 16)
    assert _visible_tiles(browser) == names[:16]
    assert _text(browser, ids.PAGE_TEXT) == "1 / 2"
    WebDriverWait(browser, 10).until(lambda d: all(w > 0 for _c, w, _s in d.execute_script(_FRAMES_JS)))
    first = {c: src for c, _w, src in browser.execute_script(_FRAMES_JS)}
    # ... and keeps playing: each tile has fetched a newer frame a moment later.
    WebDriverWait(browser, 10).until(lambda d: all(
        src != first[c] for c, _w, src in d.execute_script(_FRAMES_JS)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "wall_16_tiles.png"))

    browser.find_element(By.ID, ids.PAGE_NEXT).click()
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[16:])
    assert _text(browser, ids.PAGE_TEXT) == "2 / 2"
    browser.find_element(By.ID, ids.PAGE_NEXT).click()  # wraps around
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[:16])

    _choose_layout(browser, 4)
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[:4])
    assert _text(browser, ids.PAGE_TEXT) == "1 / 5"
    browser.find_element(By.ID, ids.PAGE_PREV).click()
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[16:])
    _choose_layout(browser, 9)
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[:9])
    _choose_layout(browser, 1)
    WebDriverWait(browser, 5).until(lambda d: _visible_tiles(d) == names[:1])
    # The wall remembers its layout across a reload.
    browser.refresh()
    _wait_live(browser)
    WebDriverWait(browser, 10).until(lambda d: _visible_tiles(d) == names[:1])
    assert _text(browser, ids.PAGE_TEXT) == "1 / 20"
