"""Every page in headless Chromium, as the role it is for, with real data on it and its main panel opened: the
browser console stays empty of errors and warnings. A page that logs errors in normal use hides the one that
matters (the wall used to log ~100 "ID not found in layout" errors for the other pages' callbacks)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from auth_testing import login_browser
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# The pages' own set-up: the server with the evidence route, the users of each role, a case with its clip.
from test_pages_browser import GRID_1, P1, P2, PASSWORD, _dispatch, _users, browsers, make_case, server

from alerts.repository import Repository
from dashboard import ids
from dashboard.server import DashboardServer
from gridwatch.settings import Settings
from gridwatch.types import Alert, CameraState

__all__ = ["browsers", "make_case", "server"]  # fixtures, used by name below

pytestmark = pytest.mark.browser

# Server callbacks answered so far (each is one POST to /_dash-update-component).
_CALLBACKS_JS = ("return performance.getEntriesByType('resource')"
                 ".filter(e => e.name.indexOf('/_dash-update-component') >= 0).length;")
# Generous for a loaded 2-core CI machine: a page is ready here in 2-5 s.
TIMEOUT_S = 30


def _wait(driver: webdriver.Chrome, cond: Callable[[webdriver.Chrome], object]) -> None:
    WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.2).until(cond)


def _settle(driver: webdriver.Chrome, more: int) -> None:
    """Wait until ``more`` further server callbacks have answered: the page's timers (queue refresh, camera
    states) have run at least once after it was ready, so what they log is in the console too."""
    start = int(driver.execute_script(_CALLBACKS_JS))
    _wait(driver, lambda d: int(d.execute_script(_CALLBACKS_JS)) >= start + more)


def _problems(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Console entries of level WARNING or worse (Chromium's log also has network failures, e.g. a 404)."""
    return [e for e in driver.get_log("browser") if e.get("level") in ("WARNING", "SEVERE")]


def _check_clean(driver: webdriver.Chrome, page: str) -> None:
    found = _problems(driver)
    assert not found, f"{page}: {len(found)} console errors/warnings:\n" + "\n".join(
        f"  {e['level']} {e['message'][:400]}" for e in found[:20])


def _log_in(browsers: Callable[..., webdriver.Chrome], server: DashboardServer, user: str,
            path: str) -> webdriver.Chrome:
    driver = browsers()
    login_browser(driver, server.url, user, PASSWORD, next_path=path)
    return driver


def _pick_and_play(driver: webdriver.Chrome, item: str, video_id: str, graph_id: str) -> None:
    """Click a list item; its clip loads and plays and its graph (map or timeline) draws its points."""
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, item))
    driver.find_element(By.CSS_SELECTOR, item).click()
    _wait(driver, lambda d: d.execute_script(
        "const v = document.getElementById(arguments[0]); return v && v.readyState >= 2;", video_id))
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{graph_id} .scatterlayer .trace"))


def test_every_page_as_its_role_logs_no_console_error_or_warning(
    server: DashboardServer, settings: Settings, repo: Repository, redis_client: redis.Redis,
    make_case: Callable[..., tuple[str, Alert]], browsers: Callable[..., webdriver.Chrome],
    store_alert: Callable[..., Alert], publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
) -> None:
    _users(repo)
    publish_camera("car-1", "巡逻车 豫A·G2024", preview=jpeg("bus.jpg", 320))
    publish_camera("park-east", "东区公园 东门", preview=jpeg("zidane.jpg", 320))
    desk_case, _ = make_case(seen=datetime.now(UTC) - timedelta(minutes=5))
    replay_case, replay_alert = make_case(camera="park-east", at=P2, category="0507",
                                          seen=datetime.now(UTC) - timedelta(minutes=20))
    staff_case, _ = make_case(category="0504", at=P1)
    _dispatch(settings, repo, redis_client, staff_case, GRID_1)

    # The login form, before anyone logs in.
    anonymous = browsers()
    anonymous.get(server.url + "login")
    _wait(anonymous, lambda d: d.find_elements(By.ID, "username"))
    _check_clean(anonymous, "login")

    # The wall, as an operator: video tiles play, a pushed alert arrives, the camera states refresh.
    wall = _log_in(browsers, server, "op1", "/")
    _wait(wall, lambda d: "gw-conn-live" in (d.find_element(By.ID, ids.CONNECTION).get_attribute("class") or ""))
    pushed = store_alert(category="0503", camera_id="car-1", snapshot="bus.jpg")
    _wait(wall, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-alert-id="{pushed.id}"]'))
    _wait(wall, lambda d: d.execute_script(
        "const i = Array.from(document.querySelectorAll('img.gw-cam-img'));"
        "return i.length === 2 && i.every(x => x.naturalWidth > 0);"))
    _settle(wall, 2)
    _check_clean(wall, "wall")

    # The desk, as an operator: a case picked shows its clip, box and map.
    desk = _log_in(browsers, server, "op1", "/desk")
    _pick_and_play(desk, f'.gw-desk-item[data-case-id="{desk_case}"]', ids.DESK_VIDEO, ids.DESK_MAP)
    _settle(desk, 2)
    _check_clean(desk, "desk")

    # The replay, as a supervisor: a hit picked plays its clip under its box, with its timeline.
    replay = _log_in(browsers, server, "sup1", "/replay")
    _pick_and_play(replay, f'.gw-replay-hit[data-alert-id="{replay_alert.id}"]', ids.REPLAY_VIDEO,
                   ids.REPLAY_TIMELINE)
    assert replay_case in replay.page_source
    _check_clean(replay, "replay")

    # The grid staff's phone page, as its grid's staff: the case dispatched there, opened.
    staff = _log_in(browsers, server, "grid1", f"/staff?case={staff_case}")
    _wait(staff, lambda d: d.find_elements(By.ID, ids.STAFF_ACCEPT))
    _settle(staff, 1)
    _check_clean(staff, "staff")

    # The admin page, as an admin.
    admin = _log_in(browsers, server, "admin1", "/admin")
    _wait(admin, lambda d: d.find_elements(By.ID, ids.ADMIN_ROOT))
    _check_clean(admin, "admin")
