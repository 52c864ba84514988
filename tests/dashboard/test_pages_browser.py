"""The desk, replay, staff and admin pages in headless Chromium, logged in as real users of each role:
an operator assigns an alert (by keyboard) and it reaches the grid's phone page, a second operator is refused
with the holder's name, the replay plays the clip under its box and exports the evidence zip, a grid-staff
user cannot open another subtree's case, and the admin imports a grid map with its problems shown by feature.
Screenshots of every page go to tests/artifacts/."""
from __future__ import annotations

import dataclasses
import io
import json
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests
from auth_testing import add_user, login_browser
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from dashboard import desk_queries, ids, page_services
from dashboard.server import DashboardServer
from geo.routing import GridRouter
from gridwatch import media
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import DEMO_GRIDS, Settings
from gridwatch.types import Alert
from tests.browser_testing import start_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
COMMUNITY_1 = "410105001001"  # 纬五路社区
GRID_1 = "410105001001001"
P1 = (34.7960, 113.6650)  # in GRID_1
P2 = (34.7740, 113.7000)  # 政七街社区第3网格, another office
PASSWORD = "pages-password-1"

pytestmark = pytest.mark.browser


@pytest.fixture()
def server(settings: Settings, repo: Repository, redis_client: redis.Redis,
           redis_server: EmbeddedRedis) -> Iterator[DashboardServer]:
    """The real dashboard (the evidence route included), as centre.dashboard starts it."""
    s = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    yield s
    s.stop()


@pytest.fixture()
def browsers(tmp_path: Path) -> Iterator[Callable[..., webdriver.Chrome]]:
    """``browsers(width, height)`` starts a headless Chromium of its own profile; all quit at the end."""
    started: list[webdriver.Chrome] = []

    def start(width: int = 1600, height: int = 1000, mobile: bool = False) -> webdriver.Chrome:
        driver = start_chromium(tmp_path / f"chromium-{len(started)}", "--autoplay-policy=no-user-gesture-required",
                                "--lang=zh-CN", f"--window-size={width},{height}")
        started.append(driver)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        return driver

    yield start
    for d in started:
        d.quit()


@pytest.fixture()
def make_case(settings: Settings, repo: Repository, shared_dir: Path) -> Callable[..., tuple[str, Alert]]:
    """An alert with its snapshot and (optionally) its clip on disk, ingested into a case like the consumer does."""
    router = GridRouter(repo.list_grids())

    def make(at: tuple[float, float] = P1, category: str = "0503", clip: bool = True, camera: str = "car-1",
             seen: datetime | None = None) -> tuple[str, Alert]:
        alert = Alert(id=uuid.uuid4().hex, camera_id=camera, category=category, confidence=0.88,
                      detected_at=seen or datetime.now(UTC), lat=at[0], lon=at[1], grid_code=None,
                      snapshot_url=None, bbox=(250.0, 150.0, 420.0, 330.0), track_id=3)
        rel = f"snapshots/{alert.detected_at:%Y/%m/%d}/{alert.id}.jpg"
        (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_dir / "images" / "bus.jpg", settings.media_dir / rel)
        alert = dataclasses.replace(alert, snapshot_url="/media/" + rel)
        assert repo.add_alert(alert, f"ev-{alert.id}", rel)
        if clip:
            path = settings.media_dir / media.clip_relpath(alert.id, alert.detected_at)
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared_dir / "video" / "dashcam_highway_640x360.mp4", path)
        with repo.engine.begin() as conn:
            [done] = CaseService(repo.engine, router).ingest_alerts(conn, [alert])
        return done.case_id, alert

    return make


def _users(repo: Repository) -> None:
    add_user(repo, "op1", PASSWORD, Role.OPERATOR, display_name="值班员 李明")
    add_user(repo, "op2", PASSWORD, Role.OPERATOR, display_name="值班员 赵六")
    add_user(repo, "sup1", PASSWORD, Role.SUPERVISOR, display_name="值班长 王强")
    add_user(repo, "grid1", PASSWORD, Role.GRID_STAFF, scope_grid=COMMUNITY_1, display_name="网格员 张伟")
    add_user(repo, "admin1", PASSWORD, Role.ADMIN, display_name="管理员 陈")


def _shot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("document.querySelectorAll('.gw-page').forEach(p => p.scrollTo(0, 0));")
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _wait(driver: webdriver.Chrome, cond: Callable[[webdriver.Chrome], object], timeout: float = 30) -> None:
    # Lists re-render as they refresh: an element found a moment ago may have been replaced since.
    WebDriverWait(driver, timeout, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,)).until(cond)


def _click(driver: webdriver.Chrome, selector: str) -> None:
    """Click the element now matching ``selector`` (found again if the page replaced it meanwhile)."""

    def attempt(d: webdriver.Chrome) -> bool:
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True

    _wait(driver, attempt)


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    found = driver.find_elements(By.ID, element_id)
    return str(found[0].text) if found else ""


def _enabled(driver: webdriver.Chrome, element_id: str) -> bool:
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and bool(found[0].is_enabled())


def _shown(driver: webdriver.Chrome, element_id: str) -> bool:
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and bool(found[0].is_displayed())


def _item(driver: webdriver.Chrome, cls: str, case_id: str) -> list[object]:
    return list(driver.find_elements(By.CSS_SELECTOR, f'.{cls}[data-case-id="{case_id}"]'))


def _dispatch(settings: Settings, repo: Repository, redis_client: redis.Redis, case_id: str, grid: str) -> None:
    svc = page_services.build(settings, repo, redis_client)
    desk_queries.assign(svc, redis_client, case_id, Actor("seed", Role.OPERATOR), "seed", grid=grid)


def test_operator_assigns_an_alert_by_keyboard_and_it_reaches_the_grid_staff_phone(
    server: DashboardServer, repo: Repository, make_case: Callable[..., tuple[str, Alert]],
    browsers: Callable[..., webdriver.Chrome], shared_dir: Path,
) -> None:
    _users(repo)
    case_id, _ = make_case()
    op = browsers()
    login_browser(op, server.url, "op1", PASSWORD, next_path="/desk")
    _wait(op, lambda d: _item(d, "gw-desk-item", case_id))
    assert "值班受理台" in op.find_element(By.CSS_SELECTOR, ".gw-page-title").text
    assert "占道经营" in op.find_element(By.CSS_SELECTOR, ".gw-desk-queue").text
    op.find_element(By.TAG_NAME, "body").send_keys("j")  # the first alert of the queue, by keyboard
    _wait(op, lambda d: _enabled(d, ids.DESK_ASSIGN))
    detail = op.find_element(By.ID, ids.DESK_DETAIL).text
    assert "纬五路社区第1网格" in detail  # the suggested grid, by name
    _wait(op, lambda d: d.execute_script(f"return document.getElementById('{ids.DESK_VIDEO}').readyState") >= 2)
    _wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.DESK_MAP} .scatterlayer .trace"))  # offline map
    assert op.find_elements(By.CSS_SELECTOR, ".gw-desk-stage .gw-replay-overlay")  # the box over the clip
    _shot(op, "desk_zh")

    op.find_element(By.TAG_NAME, "body").send_keys("a")  # confirm and assign to the suggested grid
    _wait(op, lambda d: "已派遣到" in _text(d, ids.DESK_MESSAGE))
    assert "纬五路社区第1网格" in _text(op, ids.DESK_MESSAGE)
    _wait(op, lambda d: not _item(d, "gw-desk-item", case_id))  # it left the queue

    phone = browsers(390, 844, mobile=True)
    login_browser(phone, server.url, "grid1", PASSWORD, next_path="/staff")
    _wait(phone, lambda d: _item(d, "gw-staff-card", case_id))
    assert "已派遣" in phone.find_element(By.ID, ids.STAFF_LIST).text
    _shot(phone, "staff_list_zh")
    _click(phone, f'.gw-staff-card[data-case-id="{case_id}"]')
    _wait(phone, lambda d: _shown(d, ids.STAFF_ACCEPT))
    phone.find_element(By.ID, ids.STAFF_ACCEPT).click()
    _wait(phone, lambda d: "已接单" in _text(d, ids.STAFF_MESSAGE))
    _wait(phone, lambda d: d.find_element(By.ID, ids.STAFF_HANDLED).is_displayed())
    phone.find_element(By.ID, ids.STAFF_NOTE).send_keys("摊位已劝离")
    phone.find_element(By.CSS_SELECTOR, f"#{ids.STAFF_PHOTO} input[type=file]").send_keys(
        str(shared_dir / "images" / "zidane.jpg"))
    _wait(phone, lambda d: "zidane.jpg" in _text(d, ids.STAFF_PHOTO_NAME))
    phone.find_element(By.ID, ids.STAFF_HANDLED).click()
    _wait(phone, lambda d: "已反馈处置完成" in _text(d, ids.STAFF_MESSAGE))
    _wait(phone, lambda d: "摊位已劝离" in d.find_element(By.ID, ids.STAFF_CASE).text)
    _shot(phone, "staff_case_zh")
    history = [e.action for e in CaseBook(repo.engine, GridRouter(repo.list_grids())).history(case_id)]
    assert history == ["report", "verify", "register", "dispatch", "start", "handle"]


def test_a_second_operator_is_refused_with_the_holders_name(
    server: DashboardServer, repo: Repository, make_case: Callable[..., tuple[str, Alert]],
    browsers: Callable[..., webdriver.Chrome],
) -> None:
    _users(repo)
    case_id, _ = make_case(clip=False)
    first, second = browsers(), browsers()
    for driver, name in ((first, "op1"), (second, "op2")):
        login_browser(driver, server.url, name, PASSWORD, next_path="/desk")
        _wait(driver, lambda d: _item(d, "gw-desk-item", case_id))
    _click(first, f'.gw-desk-item[data-case-id="{case_id}"]')
    _wait(first, lambda d: _enabled(d, ids.DESK_ASSIGN))

    _click(second, f'.gw-desk-item[data-case-id="{case_id}"]')
    _wait(second, lambda d: "值班员 李明 正在处理此告警" in _text(d, ids.DESK_MESSAGE))
    _wait(second, lambda d: d.find_elements(By.ID, ids.DESK_ASSIGN))
    _wait(second, lambda d: d.find_elements(By.ID, ids.DESK_REJECT) and not _enabled(d, ids.DESK_REJECT))
    second.find_element(By.TAG_NAME, "body").send_keys("r")  # the key does nothing on a disabled button
    _wait(second, lambda d: "处理中：值班员 李明" in d.find_element(By.ID, ids.DESK_QUEUE).text)
    _shot(second, "desk_claim_refused_zh")

    first.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # the first operator lets it go
    _wait(first, lambda d: "请从队列中选择" in _text(d, ids.DESK_DETAIL))
    _click(second, f'.gw-desk-item[data-case-id="{case_id}"]')
    _wait(second, lambda d: _enabled(d, ids.DESK_REJECT))
    second.find_element(By.ID, ids.DESK_REJECT).click()
    _wait(second, lambda d: "已作为误报驳回" in _text(d, ids.DESK_MESSAGE))
    assert CaseBook(repo.engine, GridRouter(repo.list_grids())).get(case_id).status == "rejected"


def test_a_case_seen_clear_shows_the_clear_picture_and_one_key_closes_it(
    server: DashboardServer, settings: Settings, repo: Repository, make_case: Callable[..., tuple[str, Alert]],
    browsers: Callable[..., webdriver.Chrome], shared_dir: Path,
) -> None:
    _users(repo)
    case_id, alert = make_case(clip=False, seen=datetime.now(UTC) - timedelta(minutes=30))
    rel = f"clear/{case_id}.jpg"  # the picture of the pass that found the place clear
    (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_dir / "images" / "zidane.jpg", settings.media_dir / rel)
    service = CaseService(repo.engine, GridRouter(repo.list_grids()))
    assert service.record_clear_pass(case_id, "car-2", datetime.now(UTC), lat=alert.lat, lon=alert.lon,
                                     snapshot_path=rel)
    op = browsers()
    login_browser(op, server.url, "op1", PASSWORD, next_path="/desk")
    _wait(op, lambda d: _item(d, "gw-desk-item", case_id))
    assert "现场复查: 已无" in op.find_element(By.CSS_SELECTOR, f'.gw-desk-item[data-case-id="{case_id}"]').text
    op.find_element(By.TAG_NAME, "body").send_keys("j")
    _wait(op, lambda d: _enabled(d, ids.DESK_CLOSE))
    _wait(op, lambda d: d.execute_script(
        "const i = document.querySelector('.gw-desk-clear-pass img'); return i && i.complete && i.naturalWidth;"))
    assert op.find_element(By.CSS_SELECTOR, ".gw-desk-clear-pass img").get_attribute("src").endswith(rel)
    assert "现场复查: 已无" in op.find_element(By.CSS_SELECTOR, ".gw-desk-clear-pass").text
    _shot(op, "desk_seen_clear_zh")
    op.find_element(By.TAG_NAME, "body").send_keys("c")  # checked the picture: one key closes it
    _wait(op, lambda d: "已结案" in _text(d, ids.DESK_MESSAGE))
    _wait(op, lambda d: not _item(d, "gw-desk-item", case_id))
    assert CaseBook(repo.engine, GridRouter(repo.list_grids())).get(case_id).status == "closed"


def test_replay_plays_the_clip_under_its_box_and_exports_the_evidence_zip(
    server: DashboardServer, settings: Settings, repo: Repository, redis_client: redis.Redis,
    make_case: Callable[..., tuple[str, Alert]], browsers: Callable[..., webdriver.Chrome],
) -> None:
    _users(repo)
    case_id, alert = make_case(seen=datetime.now(UTC) - timedelta(minutes=10))
    again, later = make_case(camera="park-east")  # another camera sees the same problem: the same case
    assert again == case_id
    sup = browsers()
    login_browser(sup, server.url, "sup1", PASSWORD, next_path="/replay")
    _wait(sup, lambda d: d.find_elements(By.CSS_SELECTOR, f'.gw-replay-hit[data-alert-id="{alert.id}"]'))
    _click(sup, f'.gw-replay-hit[data-alert-id="{alert.id}"]')
    _wait(sup, lambda d: d.find_elements(By.ID, ids.REPLAY_VIDEO))
    _wait(sup, lambda d: d.execute_script(f"return document.getElementById('{ids.REPLAY_VIDEO}').readyState") >= 2)
    start = sup.execute_script(f"return document.getElementById('{ids.REPLAY_VIDEO}').currentTime")
    _wait(sup, lambda d: d.execute_script(
        f"return document.getElementById('{ids.REPLAY_VIDEO}').currentTime") > start + 0.5, timeout=15)
    # The overlay and the timeline may still be laying out while the clip plays: wait for them, do not sample.
    _wait(sup, lambda d: "viewBox%3D%220%200%20640%20360%22"  # the clip's frame size
          in (d.find_element(By.ID, ids.REPLAY_OVERLAY).get_attribute("src") or ""))
    # The box's coordinate space lies exactly over the picture.
    _wait(sup, lambda d: d.find_element(By.ID, ids.REPLAY_OVERLAY).rect == d.find_element(By.ID, ids.REPLAY_VIDEO).rect)
    _shot(sup, "replay_zh")

    # The timeline has a point per sighting; clicking the later one plays that alert's clip.
    first_trace = f"#{ids.REPLAY_TIMELINE} .scatterlayer .trace:first-child .point"
    _wait(sup, lambda d: len(d.find_elements(By.CSS_SELECTOR, first_trace)) == 2)

    clicked = [0.0]

    def play_later(d: webdriver.Chrome) -> bool:
        if later.id in (d.find_element(By.ID, ids.REPLAY_VIDEO).get_attribute("src") or ""):
            return True
        if time.monotonic() - clicked[0] > 3:  # a click that hit a point still moving into place is made again
            clicked[0] = time.monotonic()
            ActionChains(d).move_to_element(d.find_elements(By.CSS_SELECTOR, first_trace)[1]).click().perform()
        return False

    _wait(sup, play_later)

    # Confirm from the replay: the case is verified and the audit log says who.
    _click(sup, '[id*="verify"]')
    _wait(sup, lambda d: "已核实" in _text(d, ids.REPLAY_MESSAGE))

    # The export link downloads with the supervisor's session: the zip holds clip, snapshot, log and manifest.
    # Read while waiting: the panel re-renders after the verdict, so the element found first may be replaced.
    hrefs: list[str] = []
    _wait(sup, lambda d: hrefs.append(d.find_element(By.ID, ids.REPLAY_EXPORT).get_attribute("href") or "")
          or hrefs[-1])
    link = hrefs[-1]
    session = requests.Session()
    for c in sup.get_cookies():
        session.cookies.set(c["name"], c["value"])
    r = session.get(str(link), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = set(zf.namelist())
        assert {"case.json", "sightings.csv", "audit_log.csv", "audit_log.json", "manifest.json", "SHA256SUMS",
                f"clips/{alert.id}.mp4", f"snapshots/{alert.id}.jpg"} <= names
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["generated_by"] == "sup1"
        assert "sup1" in zf.read("audit_log.csv").decode("utf-8-sig")
    # Not for an operator, and not without a login.
    assert requests.get(str(link), timeout=30).status_code == 401
    op_session = requests.Session()
    assert op_session.post(server.url + "login", data={"username": "op1", "password": PASSWORD, "next": "/"},
                           allow_redirects=False, timeout=30).status_code == 303
    assert op_session.get(str(link), timeout=30).status_code == 403


def test_grid_staff_cannot_open_another_subtrees_case_nor_the_operators_pages(
    server: DashboardServer, settings: Settings, repo: Repository, redis_client: redis.Redis,
    make_case: Callable[..., tuple[str, Alert]], browsers: Callable[..., webdriver.Chrome],
) -> None:
    _users(repo)
    theirs, _ = make_case(at=P2, clip=False)
    mine, _ = make_case(clip=False, category="0507")
    _dispatch(settings, repo, redis_client, theirs, "410105002002003")
    _dispatch(settings, repo, redis_client, mine, GRID_1)
    phone = browsers(390, 844, mobile=True)
    login_browser(phone, server.url, "grid1", PASSWORD, next_path=f"/staff?case={theirs}")
    _wait(phone, lambda d: "此案件不在您的网格范围内" in _text(d, ids.STAFF_CASE))
    _wait(phone, lambda d: _item(d, "gw-staff-card", mine))
    assert not _item(phone, "gw-staff-card", theirs)
    assert not phone.find_elements(By.ID, ids.STAFF_ACCEPT)
    _shot(phone, "staff_out_of_scope_zh")
    phone.get(server.url + "desk")
    _wait(phone, lambda d: "无权打开此页面" in _text(d, "desk-forbidden"))


def test_admin_imports_a_grid_map_with_problems_by_feature_then_a_valid_one(
    server: DashboardServer, repo: Repository, browsers: Callable[..., webdriver.Chrome], tmp_path: Path,
) -> None:
    _users(repo)
    doc = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    bad = json.loads(json.dumps(doc))
    bad["features"][3]["properties"]["parent"] = "410105009009"
    (tmp_path / "bad.geojson").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "good.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    admin = browsers()
    login_browser(admin, server.url, "admin1", PASSWORD, next_path="/admin")
    _wait(admin, lambda d: "网格员 张伟" in _text(d, ids.ADMIN_USERS))
    upload = f"#{ids.ADMIN_GRID_UPLOAD} input[type=file]"
    # The page's sections render on their own callbacks: the user list may show before the upload is there.
    _wait(admin, lambda d: d.find_elements(By.CSS_SELECTOR, upload))
    admin.find_element(By.CSS_SELECTOR, upload).send_keys(str(tmp_path / "bad.geojson"))
    _wait(admin, lambda d: "未导入任何内容" in _text(d, ids.ADMIN_GRID_RESULT))
    result = admin.find_element(By.ID, ids.ADMIN_GRID_RESULT).text
    assert "feature #3 (code '410105001001002')" in result and "410105009009" in result
    assert "100%" in _text(admin, ids.ADMIN_GRID_PROGRESS)
    _shot(admin, "admin_grid_problems_zh")
    admin.execute_script(f"document.querySelector('{upload}').value = ''")
    admin.find_element(By.CSS_SELECTOR, upload).send_keys(str(tmp_path / "good.geojson"))
    _wait(admin, lambda d: "已导入 22 个网格" in _text(d, ids.ADMIN_GRID_RESULT))
    assert repo.grid_count() == 22

    admin.find_element(By.ID, ids.ADMIN_USER_NAME).send_keys("grid2")
    admin.find_element(By.ID, ids.ADMIN_USER_PASSWORD).send_keys("another-password-2")
    admin.find_element(By.ID, ids.ADMIN_USER_SCOPE).send_keys("410105002")
    admin.find_element(By.ID, ids.ADMIN_USER_ADD).click()
    _wait(admin, lambda d: "用户 grid2 已添加" in _text(d, ids.ADMIN_USER_MESSAGE))
    assert "410105002" in _text(admin, ids.ADMIN_USERS)

    admin.find_element(By.ID, ids.ADMIN_CAM_ID).send_keys("car-9")
    admin.find_element(By.ID, ids.ADMIN_CAM_NAME).send_keys("巡逻车 豫A·9999")
    admin.find_element(By.ID, ids.ADMIN_CAM_URL).send_keys("rtsp://cam:s3cret@10.0.0.9/live")
    admin.find_element(By.ID, ids.ADMIN_CAM_ADD).click()
    _wait(admin, lambda d: "摄像头 car-9 已添加" in _text(d, ids.ADMIN_CAM_MESSAGE))
    cameras = _text(admin, ids.ADMIN_CAMERAS)
    assert "巡逻车 豫A·9999" in cameras and "rtsp://cam:***@10.0.0.9/live" in cameras and "s3cret" not in cameras
    _shot(admin, "admin_zh")
    _click(admin, '[id*="car-9"]')
    _wait(admin, lambda d: "摄像头 car-9 已删除" in _text(d, ids.ADMIN_CAM_MESSAGE))
    assert "car-9" not in _text(admin, ids.ADMIN_CAMERAS)


def test_the_desk_speaks_english_when_asked(
    server: DashboardServer, repo: Repository, make_case: Callable[..., tuple[str, Alert]],
    browsers: Callable[..., webdriver.Chrome],
) -> None:
    _users(repo)
    case_id, _ = make_case(clip=False)
    op = browsers()
    login_browser(op, server.url, "op1", PASSWORD, next_path="/desk?lang=en")
    _wait(op, lambda d: _item(d, "gw-desk-item", case_id))
    assert op.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    page = op.find_element(By.CSS_SELECTOR, ".gw-desk").text
    for label in ("Operator's desk", "Alert queue", "occupying the road for business", "Log out"):
        assert label in page
    assert "告警队列" not in page
    _click(op, f'.gw-desk-item[data-case-id="{case_id}"]')
    _wait(op, lambda d: "Suggested grid" in _text(d, ids.DESK_DETAIL))
    _shot(op, "desk_en")


def _callback(session: requests.Session, base: str, output: str, inputs: list[dict[str, object]],
              state: list[dict[str, object]]) -> requests.Response:
    """A Dash callback request as the page's renderer sends it."""
    out_id, out_prop = output.rsplit(".", 1)
    body = {"output": output, "outputs": {"id": out_id, "property": out_prop}, "inputs": inputs, "state": state,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs]}
    return session.post(base + "_dash-update-component", json=body, timeout=30)


def test_page_callbacks_check_the_role_on_the_server(
    server: DashboardServer, repo: Repository, make_case: Callable[..., tuple[str, Alert]],
) -> None:
    """A grid-staff user who sends the desk's own callback (not through the page) is refused; an operator is
    answered; nobody logged in gets 401."""
    _users(repo)
    case_id, _ = make_case(clip=False)
    inputs: list[dict[str, object]] = [{"id": ids.DESK_QUEUE_TICK, "property": "n_intervals", "value": 1},
                                       {"id": ids.DESK_DONE, "property": "data", "value": 0},
                                       {"id": ids.DESK_SELECTED, "property": "data", "value": None},
                                       {"id": ids.DESK_SORT, "property": "value", "value": "default"}]
    state: list[dict[str, object]] = [{"id": ids.DESK_LOCALE, "property": "data", "value": {"lang": "zh_CN"}}]

    def as_user(name: str | None) -> requests.Response:
        s = requests.Session()
        if name is not None:
            r = s.post(server.url + "login", data={"username": name, "password": PASSWORD, "next": "/"},
                       allow_redirects=False, timeout=30)
            assert r.status_code == 303
        return _callback(s, server.url, f"{ids.DESK_QUEUE}.children", inputs, state)

    assert as_user(None).status_code == 401
    assert as_user("grid1").status_code == 403
    answered = as_user("op1")
    assert answered.status_code == 200 and case_id in answered.text
