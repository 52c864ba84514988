"""The desk's low-priority lane in headless Chromium: the doubted alert waits under the queue, counted, with its
score; one key (p) promotes it to the wall's queue. And the replay page's reason picker: a supervisor's reject
keeps the reason picked. Screenshot in tests/artifacts/desk_low_lane_zh.png."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from auth_testing import add_user, login_browser
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from alerts import verdicts
from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.workflow import Role
from dashboard import ids, wall_data
from dashboard.server import DashboardServer
from geo.routing import GridRouter
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings
from gridwatch.types import Alert
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "lane-password-1"
pytestmark = pytest.mark.browser


@pytest.fixture()
def server(settings: Settings, repo: Repository, redis_client: redis.Redis,
           redis_server: EmbeddedRedis) -> Iterator[DashboardServer]:
    s = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    yield s
    s.stop()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--lang=zh-CN", "--window-size=1600,1000")
    yield driver
    driver.quit()


def _case(repo: Repository, n: int, likely_real: float, lane: str) -> str:
    alert = Alert(id=uuid.uuid4().hex, camera_id="car-1", category="0502", confidence=0.8,
                  detected_at=datetime.now(UTC) - timedelta(minutes=10 - n), lat=34.7960 + 0.0004 * n, lon=113.6650,
                  grid_code=None, snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0), track_id=n,
                  likely_real=likely_real, lane=lane)
    assert repo.add_alert(alert, f"ev-{alert.id}", None)
    with repo.engine.begin() as conn:
        [done] = CaseService(repo.engine, GridRouter(repo.list_grids())).ingest_alerts(conn, [alert])
    return done.case_id


def _wait(driver: webdriver.Chrome, cond: object, timeout: float = 30) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(cond)  # type: ignore[arg-type]


def _item_text(driver: webdriver.Chrome, case_id: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, f'.gw-desk-item[data-case-id="{case_id}"]')
    return str(found[0].text) if found else ""


def test_the_low_lane_shows_under_the_queue_and_p_promotes_the_picked_alert_to_the_wall(
    server: DashboardServer, repo: Repository, browser: webdriver.Chrome
) -> None:
    add_user(repo, "op1", PASSWORD, Role.OPERATOR, display_name="值班员 李明")
    trusted = _case(repo, 1, 0.91, "wall")
    doubted = _case(repo, 2, 0.07, "low")
    login_browser(browser, server.url, "op1", PASSWORD, next_path="/desk")
    _wait(browser, lambda d: "可信度 7%" in _item_text(d, doubted))
    assert "可信度 91%" in _item_text(browser, trusted)
    head = browser.find_element(By.CSS_SELECTOR, ".gw-desk-lane-head")
    assert head.text == "低优先级（1）"
    # The lane is under the queue: the doubted item comes after its heading, the trusted one before it.
    order = browser.execute_script(
        "return Array.from(document.querySelectorAll('.gw-desk-item, .gw-desk-lane-head'))"
        ".map(e => e.dataset.caseId || 'lane');")
    assert order == [trusted, "lane", doubted]

    browser.find_element(By.CSS_SELECTOR, f'.gw-desk-item[data-case-id="{doubted}"]').click()
    _wait(browser, lambda d: d.find_element(By.ID, ids.DESK_PROMOTE).is_enabled())
    assert "低优先级通道" in browser.find_element(By.ID, ids.DESK_DETAIL).text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "desk_low_lane_zh.png"))
    browser.find_element(By.TAG_NAME, "body").send_keys("p")
    _wait(browser, lambda d: "已提升到大屏" in d.find_element(By.ID, ids.DESK_MESSAGE).text)
    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, ".gw-desk-lane-head"))
    router = GridRouter(repo.list_grids())
    book = CaseBook(repo.engine, router)
    assert book.get(doubted).lane == "wall"
    on_wall = {i["case_id"] for i in wall_data.case_queue(book, router, None, datetime.now(UTC))}
    assert on_wall == {trusted, doubted}


def test_a_supervisor_rejects_on_the_replay_page_with_a_reason_from_the_list(
    server: DashboardServer, repo: Repository, browser: webdriver.Chrome
) -> None:
    add_user(repo, "sup1", PASSWORD, Role.SUPERVISOR, display_name="值班长 王强")
    case_id = _case(repo, 1, 0.3, "wall")
    [sighting] = CaseBook(repo.engine, GridRouter(repo.list_grids())).sightings(case_id)
    login_browser(browser, server.url, "sup1", PASSWORD, next_path="/replay")
    hit = f'.gw-replay-hit[data-alert-id="{sighting.alert_id}"]'
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, hit))
    browser.find_element(By.CSS_SELECTOR, hit).click()
    _wait(browser, lambda d: d.find_elements(By.ID, ids.REPLAY_REASON))

    def picked(d: webdriver.Chrome) -> bool:
        # The panel may render again after the click (the selection lands twice), dropping what was typed into the
        # list it replaced: pick again until the reason shows, as a user would.
        reason = d.find_element(By.ID, ids.REPLAY_REASON)
        if "长椅休息" in reason.text:
            return True
        try:
            reason.click()
            ActionChains(d).send_keys("长椅休息").send_keys(Keys.ENTER).perform()  # typed into the open list
        except WebDriverException:  # replaced while we clicked: the next poll finds the new one
            return False
        return "长椅休息" in d.find_element(By.ID, ids.REPLAY_REASON).text

    _wait(browser, picked)
    browser.find_element(By.CSS_SELECTOR, '[id*="reject"]').click()
    _wait(browser, lambda d: "已驳回" in d.find_element(By.ID, ids.REPLAY_MESSAGE).text)
    [v] = verdicts.of_case(repo.engine, case_id)
    assert (v.real, v.reason, v.actor) == (False, "bench_rest", "sup1")
