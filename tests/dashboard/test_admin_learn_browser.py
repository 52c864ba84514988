"""Learning from verdicts on the admin page, in headless Chromium against the real dashboard: the admin clicks
学习复核结果, watches the progress bar fill and reads each category's result (vagrancy's filter trained and in
use, stalls refused for too few verdicts, with the counts). A supervisor who sends the page's callback itself is
refused and starts nothing; a second start while one runs starts nothing either. Screenshot:
tests/artifacts/admin_learn_zh.png."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from auth_testing import add_user, login_browser
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts import filters
from alerts.calendar import WorkingCalendar
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.repository import Repository
from alerts.sink import AlertSink
from alerts.verdict_learning import Outcome, Overall, learn
from dashboard import admin_learn, ids
from dashboard.server import DashboardServer
from geo.grids import GridIndex
from geo.routing import GridRouter
from gridwatch.settings import Settings
from tests.alerts.verdict_testing import OPERATOR, case_of, event, evidence, verdicts_where_benches_mean_false
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "learn-password-1"
pytestmark = pytest.mark.browser


@pytest.fixture()
def seeded(settings: Settings, repo: Repository, redis_client: redis.Redis) -> Repository:
    """40 vagrancy verdicts (benches mean resting) and two confirmed stalls: too few to learn stalls from."""
    router = GridRouter(repo.list_grids())
    sink = AlertSink(repo, redis_client, settings.media_dir, GridIndex(repo.list_grids()))
    service, work = CaseService(repo.engine, router), Casework(repo.engine, router, WorkingCalendar.load())
    verdicts_where_benches_mean_false(sink, service, work, 40)
    for n in (200, 201):
        _alert, case_id = case_of(sink, service, event(n, evidence(0.0), category="0501"))
        work.verify(case_id, OPERATOR)
    add_user(repo, "admin1", PASSWORD, "admin", display_name="管理员 陈")
    add_user(repo, "sup1", PASSWORD, "supervisor", display_name="值班长 王强")
    return repo


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path / "chromium", "--lang=zh-CN", "--window-size=1600,1400")
    yield driver
    driver.quit()


def _wait(driver: webdriver.Chrome, cond: Any, timeout: float = 60) -> None:
    # The panels re-render while the run is polled: an element found a moment ago may have been replaced.
    WebDriverWait(driver, timeout, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(cond)


def _outcome(driver: webdriver.Chrome, category: str) -> tuple[str, str]:
    found = driver.find_elements(By.CSS_SELECTOR, f'.gw-learn-outcome[data-category="{category}"]')
    return (str(found[0].get_attribute("data-result")), str(found[0].text)) if found else ("", "")


def _wait_run_over(jobs: admin_learn.LearnJobs = admin_learn.JOBS) -> None:
    """No run of ``jobs`` still going (a test's run must not answer another test's click)."""
    def over() -> bool:
        run = jobs.latest()
        return run is None or run.state is not admin_learn.RunState.RUNNING

    deadline = time.monotonic() + 120
    while not over():
        if time.monotonic() > deadline:
            pytest.fail("a learning run is still going after 120 s")
        time.sleep(0.1)


def test_the_admin_learns_from_verdicts_with_a_progress_bar_and_a_result_per_category(
    seeded: Repository, dashboard: DashboardServer, browser: webdriver.Chrome
) -> None:
    server = dashboard
    _wait_run_over()
    login_browser(browser, server.url, "admin1", PASSWORD, next_path="/admin")
    _wait(browser, lambda d: d.find_elements(By.ID, ids.ADMIN_LEARN_START))
    assert browser.find_element(By.ID, ids.ADMIN_LEARN_START).text == "学习复核结果"

    def click(d: webdriver.Chrome) -> bool:
        d.find_element(By.ID, ids.ADMIN_LEARN_START).click()
        return True

    _wait(browser, click)
    _wait(browser, lambda d: _outcome(d, "0502")[0] == "in_use")
    result, text = _outcome(browser, "0502")
    assert "已训练并启用" in text and "40" in text
    stalls, why = _outcome(browser, "0501")
    assert stalls == "too_few" and "属实 2 条" in why and "误报 0 条" in why and "至少需要 10 条" in why
    bar = browser.find_element(By.ID, ids.ADMIN_LEARN_BAR)
    assert bar.get_attribute("value") == "100"
    assert "100%" in browser.find_element(By.ID, ids.ADMIN_LEARN_PROGRESS).text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", ids.ADMIN_LEARN_RESULT)
    assert browser.save_screenshot(str(ARTIFACTS / "admin_learn_zh.png"))
    assert "0502" in filters.active(seeded.engine) and "0501" not in filters.active(seeded.engine)


def _learn_callback(session: requests.Session, base: str) -> requests.Response:
    """The start button's callback, as the page's renderer sends it (its output spec from /_dash-dependencies)."""
    deps = session.get(base + "_dash-dependencies", timeout=30).json()
    [spec] = [c for c in deps if any(i["id"] == ids.ADMIN_LEARN_START for i in c["inputs"])]
    body = {"output": spec["output"],
            "outputs": [{"id": o.split(".")[0].lstrip("."), "property": o.rsplit(".", 1)[1].split("@")[0]}
                        for o in spec["output"].strip(".").split("...")],
            "inputs": [{"id": ids.ADMIN_LEARN_START, "property": "n_clicks", "value": 1}],
            "state": [{"id": ids.ADMIN_LOCALE, "property": "data", "value": {"lang": "zh_CN"}}],
            "changedPropIds": [f"{ids.ADMIN_LEARN_START}.n_clicks"]}
    return session.post(base + "_dash-update-component", json=body, timeout=30)


def _session(server: DashboardServer, username: str) -> requests.Session:
    s = requests.Session()
    r = s.post(server.url + "login", data={"username": username, "password": PASSWORD, "next": "/"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    return s


def test_only_an_admin_may_start_learning_and_only_one_run_at_a_time(
    seeded: Repository, dashboard: DashboardServer, settings: Settings
) -> None:
    server = dashboard
    _wait_run_over()
    before = admin_learn.JOBS.latest()
    refused = _learn_callback(_session(server, "sup1"), server.url)
    assert refused.status_code == 403
    assert admin_learn.JOBS.latest() == before and filters.active(seeded.engine) == {}  # nothing started
    # While a run goes on (held at its start here), a second start is answered with that run, nothing new.
    gate = threading.Event()
    jobs = admin_learn.LearnJobs()

    def held(overall: Overall) -> list[Outcome]:
        gate.wait(60)
        return learn(seeded.engine, settings.learning, overall=overall)

    first, started = jobs.start("admin1", held)
    again, started_again = jobs.start("admin2", held)
    assert started and not started_again and again.run_id == first.run_id and again.started_by == "admin1"
    gate.set()
    _wait_run_over(jobs)
    answered = _learn_callback(_session(server, "admin1"), server.url)
    assert answered.status_code == 200 and '"run"' in answered.text
    _wait_run_over()
    assert "0502" in filters.active(seeded.engine)
