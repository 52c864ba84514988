"""Logging in with headless Chromium: the form, a refused password, the wall working after it, and logging out."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_testing import add_user, login_browser
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts.repository import Repository
from alerts.workflow import Role
from dashboard.server import DashboardServer
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--window-size=1280,900")
    try:
        yield driver
    finally:
        driver.quit()


def test_a_browser_logs_in_sees_the_wall_and_logs_out(
    dashboard: DashboardServer, repo: Repository, browser: webdriver.Chrome
) -> None:
    add_user(repo, "li.ming", "li-ming-password", Role.OPERATOR, display_name="值班员 李明")
    base = dashboard.url.rstrip("/")
    browser.get(base + "/")
    WebDriverWait(browser, 30).until(lambda d: "/login" in d.current_url)
    assert browser.find_element(By.ID, "login-submit").text == "登录"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "login.png"))

    browser.find_element(By.ID, "username").send_keys("li.ming")
    browser.find_element(By.ID, "password").send_keys("wrong password")
    browser.find_element(By.ID, "login-submit").click()
    message = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "login-message"))
    assert message.text == "用户名或密码错误"

    login_browser(browser, base, "li.ming", "li-ming-password")
    # The Dash page renders, so its layout and callbacks passed the guard with the session cookie.
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#_pages_content *"))
    assert "/login" not in browser.current_url
    me = browser.execute_script("return fetch('/api/me').then(r => r.json())")
    assert me["username"] == "li.ming" and me["role"] == "operator"

    browser.get(base + "/logout")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "login-message"))
    assert "已退出登录" in browser.find_element(By.ID, "login-message").text
    status = browser.execute_script("return fetch('/api/alerts').then(r => r.status)")
    assert status == 401
