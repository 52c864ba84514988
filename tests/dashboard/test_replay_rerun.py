"""The replay's "re-run with today's rules" without a browser: a real alert's real clip through the real pipeline
(YOLO weights from ../shared), in the background job the page polls.

The clip is the SYNTHETIC 4 s drive-by of a man sitting on a low wall (demo.driveby ``park-sitter``), flagged as
vagrancy (0502) by a patrol car: seated on a wall is no vagrant under today's default rules (no longer raised);
with "seated" opted in, it is raised again.
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from auth_testing import add_user, login_browser
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.workflow import Role
from dashboard import ids, page_services, replay_queries, replay_rerun
from dashboard.page_services import PageServices
from dashboard.server import DashboardServer
from demo.driveby import scene_photo, write_clip
from gridwatch import media
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings, load_settings
from gridwatch.types import Alert
from tests.browser_testing import start_chromium

VAGRANCY = "0502"
CAR = "car-1"
P1 = (34.7960, 113.6650)  # two places in different grids of the demo map
P2 = (34.7740, 113.7000)
WAIT_S = 600.0  # a condition wait; the whole file took 23-35 s here (3 analyses of the 4 s clip), so >10x margin


@pytest.fixture()
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    """The dashboard's settings with the patrol car that recorded the clip (a moving camera)."""
    car = {"id": CAR, "name": "豫A-00001", "url": "rtsp://127.0.0.1:1/car", "vision": {"mobile": True}}
    return load_settings(None, data_dir=tmp_path / "data", redis_url=redis_server.url, demo={"enabled": False},
                         cameras=[car])


@pytest.fixture()
def svc(settings: Settings, repo: Repository, redis_client: redis.Redis) -> PageServices:
    return page_services.build(settings, repo, redis_client)


@pytest.fixture()
def sitter_clip(shared_dir: Path, tmp_path: Path) -> Path:
    photo, spec = scene_photo("park-sitter", shared_dir / "images")
    return write_clip(photo, tmp_path / "sitter.mp4", spec)


def _flagged_clip(svc: PageServices, settings: Settings, clip: Path, at: tuple[float, float]) -> tuple[str, str]:
    """A vagrancy alert of the car whose recorded clip is ``clip``, ingested into a case: (case id, alert id)."""
    alert = Alert(id=uuid.uuid4().hex, camera_id=CAR, category=VAGRANCY, confidence=0.8,
                  detected_at=datetime.now(UTC), lat=at[0], lon=at[1], grid_code=None, snapshot_url=None,
                  bbox=(100.0, 120.0, 180.0, 330.0), track_id=1)
    assert svc.repo.add_alert(alert, f"ev-{alert.id}", None)
    path = settings.media_dir / media.clip_relpath(alert.id, alert.detected_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip.read_bytes())
    with svc.repo.engine.begin() as conn:
        [done] = CaseService(svc.repo.engine, svc.router).ingest_alerts(conn, [alert])
    return done.case_id, alert.id


def test_a_flagged_clip_rerun_with_todays_rules_says_whether_it_would_still_be_raised(
    svc: PageServices, settings: Settings, sitter_clip: Path,
) -> None:
    clip = sitter_clip
    today = settings
    seated = settings.model_copy(update={"rules": settings.rules.model_copy(
        update={"vagrant_postures": ["lying", "sitting", "seated"]})})
    case_a, alert_a = _flagged_clip(svc, settings, clip, P1)
    case_b, alert_b = _flagged_clip(svc, settings, clip, P2)  # another place: another case
    jobs = replay_rerun.RerunJobs()

    first = replay_rerun.start(jobs, svc, today, case_a, alert_a, None, Role.SUPERVISOR)
    second = replay_rerun.start(jobs, svc, seated, case_b, None, None, Role.SUPERVISOR)  # None: the latest alert
    assert first.alert_id == alert_a and second.alert_id == alert_b and second.case_id == case_b
    # Clicking again while it runs starts nothing new: the same job answers.
    assert replay_rerun.start(jobs, svc, today, case_a, alert_a, None, Role.SUPERVISOR).alert_id == alert_a

    deadline = time.monotonic() + WAIT_S
    while True:
        a, b = jobs.get(alert_a), jobs.get(alert_b)
        assert a is not None and b is not None
        running = [j for j in (a, b) if j.state is replay_rerun.JobState.RUNNING]
        assert len(running) <= 1, "one re-run at a time per process"
        if {a.state, b.state} <= {replay_rerun.JobState.DONE, replay_rerun.JobState.FAILED}:
            break
        assert time.monotonic() < deadline, (a, b)
        time.sleep(0.2)

    assert a.state is replay_rerun.JobState.DONE and a.result is not None, a.error
    assert a.result.events == () and not a.result.still_raised, "seated on a wall: no longer raised today"
    assert a.result.frames == 20  # the whole clip, 4 s at detect_fps 5
    assert b.state is replay_rerun.JobState.DONE and b.result is not None, b.error
    assert [e.code for e in b.result.events] == [VAGRANCY] and b.result.still_raised, "raised with seated opted in"
    event = b.result.events[0]
    assert 0.0 <= event.first_s <= event.last_s <= 4.0 and 0.0 < event.confidence <= 1.0
    # The result is kept: asking again gives it at once, without another run.
    again = replay_rerun.start(jobs, svc, today, case_a, alert_a, None, Role.SUPERVISOR)
    assert again.state is replay_rerun.JobState.DONE and again.result == a.result


def test_a_case_outside_the_grid_or_without_a_clip_is_not_rerun(svc: PageServices, settings: Settings) -> None:
    alert = Alert(id=uuid.uuid4().hex, camera_id=CAR, category=VAGRANCY, confidence=0.8,
                  detected_at=datetime.now(UTC), lat=P1[0], lon=P1[1], grid_code=None, snapshot_url=None,
                  bbox=(1.0, 2.0, 3.0, 4.0), track_id=1)
    assert svc.repo.add_alert(alert, f"ev-{alert.id}", None)
    with svc.repo.engine.begin() as conn:
        [done] = CaseService(svc.repo.engine, svc.router).ingest_alerts(conn, [alert])
    jobs = replay_rerun.RerunJobs()
    with pytest.raises(replay_rerun.NoClipError):
        replay_rerun.start(jobs, svc, settings, done.case_id, alert.id, None, Role.SUPERVISOR)
    with pytest.raises(replay_queries.ScopeError):
        replay_rerun.start(jobs, svc, settings, done.case_id, alert.id, "410105002", Role.SUPERVISOR)
    assert jobs.get(alert.id) is None


@pytest.mark.browser
def test_the_supervisor_reruns_a_clip_from_the_replay_page_and_reads_the_verdict(
    svc: PageServices, settings: Settings, repo: Repository, redis_client: redis.Redis,
    redis_server: EmbeddedRedis, sitter_clip: Path, tmp_path: Path,
) -> None:
    case_id, alert_id = _flagged_clip(svc, settings, sitter_clip, P1)
    add_user(repo, "sup1", "rerun-password-1", Role.SUPERVISOR)
    server = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    driver = start_chromium(tmp_path / "chromium", "--lang=zh-CN", "--window-size=1600,1000")
    try:
        login_browser(driver, server.url, "sup1", "rerun-password-1",
                      next_path=f"/replay?case={case_id}&alert={alert_id}")
        wait = WebDriverWait(driver, 60, poll_frequency=0.2)
        wait.until(lambda d: d.find_elements(By.ID, ids.REPLAY_RERUN))
        button = driver.find_element(By.ID, ids.REPLAY_RERUN)
        assert button.text == "按现行规则重跑"
        button.click()
        # The page polls the background job until the verdict is there (a condition wait, not a sleep).
        WebDriverWait(driver, WAIT_S, poll_frequency=0.5).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.REPLAY_RERUN_OUT} [data-still-raised]"))
        verdict = driver.find_element(By.CSS_SELECTOR, f"#{ids.REPLAY_RERUN_OUT} [data-still-raised]")
        assert verdict.get_attribute("data-still-raised") == "no" and verdict.text == "今天的规则: 不再报警"
        assert "现行规则在这段视频中不报警" in driver.find_element(By.ID, ids.REPLAY_RERUN_OUT).text
    finally:
        driver.quit()
        server.stop()
