"""Language and time of the wall and the JSON API: Chinese and China time by default, English on request."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from auth_testing import logged_in_client
from flask.testing import FlaskClient

from alerts.repository import Repository
from dashboard import wall_queries
from dashboard.app import create_app
from gridwatch.settings import Settings, load_settings
from gridwatch.types import Alert, CameraState, CameraStatus

CHINA = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def client(settings: Settings, repo: Repository, redis_client: redis.Redis) -> FlaskClient:
    return logged_in_client(create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws"), repo)


def test_api_errors_are_chinese_by_default_and_english_on_request(client: FlaskClient) -> None:
    zh = client.get("/api/alerts?limit=ten")
    assert zh.status_code == 400
    assert zh.headers["Content-Language"] == "zh-CN"
    assert zh.get_json()["error"] == "参数 limit 必须是 1 到 500 之间的整数，收到 'ten'"

    en = client.get("/api/alerts?limit=ten&lang=en")
    assert en.headers["Content-Language"] == "en"
    assert en.get_json()["error"] == "The limit parameter must be a whole number from 1 to 500, got 'ten'"

    by_header = client.get("/api/alerts?limit=0", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert by_header.get_json()["error"].startswith("The limit parameter")

    missing = client.get("/api/nothing-here", headers={"Accept-Language": "fr-FR"})  # unsupported: default
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "资源不存在：/api/nothing-here"


def test_alerts_carry_utc_and_china_time_and_the_category_in_the_language(
    client: FlaskClient, store_alert: Callable[..., Alert]
) -> None:
    # 23:30 UTC is 07:30 the next morning in Zhengzhou.
    at = datetime(2025, 1, 28, 23, 30, 5, tzinfo=UTC)
    store_alert(detected_at=at, category="0503", publish=False)

    zh = client.get("/api/alerts").get_json()[0]
    assert datetime.fromisoformat(zh["detected_at"]) == at and zh["detected_at"].endswith("+00:00")
    assert zh["detected_at_local"] == "2025-01-29T07:30:05+08:00"
    assert zh["category_name"] == "占道经营"

    en = client.get("/api/alerts?lang=en").get_json()[0]
    assert en["category_name"] == "occupying the road for business"
    assert en["detected_at_local"] == zh["detected_at_local"]  # the zone is the city's, not the language's


def test_cameras_state_in_words_and_last_frame_in_both_times(
    client: FlaskClient, publish_camera: Callable[..., CameraState]
) -> None:
    state = publish_camera("car-1", "巡逻车 1", CameraStatus.STALLED, age_s=12.0)

    zh = client.get("/api/cameras").get_json()[0]
    assert zh["state"] == "stalled" and zh["state_text"] == "卡顿"
    assert state.last_frame_at is not None
    assert datetime.fromisoformat(zh["last_frame_at"]) == state.last_frame_at
    local = datetime.fromisoformat(zh["last_frame_at_local"])
    assert local == state.last_frame_at and local.utcoffset() == timedelta(hours=8)
    assert client.get("/api/cameras?lang=en").get_json()[0]["state_text"] == "Stalled"


def test_the_wall_page_speaks_the_chosen_language_and_remembers_it(client: FlaskClient) -> None:
    page = client.get("/")
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    assert "<title>GridWatch 网格指挥中心</title>" in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers  # nothing chosen, nothing stored

    chosen = client.get("/?lang=en")
    assert '<html lang="en">' in chosen.get_data(as_text=True)
    assert "gw_lang=en" in chosen.headers["Set-Cookie"]

    # The same browser (the test client keeps cookies) later opens the plain address: still English.
    again = client.get("/")
    assert '<html lang="en">' in again.get_data(as_text=True)
    assert "<title>GridWatch Command Centre</title>" in again.get_data(as_text=True)
    # ... and its API errors follow the wall's choice.
    assert client.get("/api/alerts?limit=0").get_json()["error"].startswith("The limit parameter")


def test_the_day_count_follows_china_midnight_not_the_servers(make_alert: Callable[..., Alert]) -> None:
    now = datetime(2025, 1, 29, 1, 0, tzinfo=UTC)  # 09:00 in China
    alerts = [
        make_alert(detected_at=datetime(2025, 1, 28, 16, 0, 1, tzinfo=UTC)),  # 00:00:01 China: today
        make_alert(detected_at=datetime(2025, 1, 28, 15, 59, 59, tzinfo=UTC)),  # 23:59:59 China: yesterday
        make_alert(detected_at=datetime(2025, 1, 29, 0, 30, tzinfo=UTC)),  # 08:30 China: today
    ]
    assert wall_queries.count_today(alerts, now, "Asia/Shanghai") == 2
    assert wall_queries.count_today(alerts, now, "UTC") == 1  # a server clock in UTC would have said 1


def test_a_site_can_make_english_the_default(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    settings = load_settings(None, data_dir=settings.data_dir, demo={"enabled": False},
                             locale={"language": "en", "timezone": "Europe/London"})
    client = logged_in_client(create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws"), repo)
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/?lang=zh_CN").get_data(as_text=True)


def test_a_grid_scoped_viewer_counts_only_its_subtrees_alerts_today(
    repo: Repository, store_alert: Callable[..., Alert]
) -> None:
    now = datetime.now(UTC)
    mine, other = "410105001001001", "410105002001001"
    for grid in (mine, mine, other, None):
        store_alert(publish=False, grid_code=grid, detected_at=now - timedelta(minutes=1))
    everyone = wall_queries.today_summary(repo, now, "Asia/Shanghai")
    scoped = wall_queries.today_summary(repo, now, "Asia/Shanghai",
                                   in_scope=lambda g: g is not None and g.startswith("410105001"))
    assert everyone["count"] == 4 and not everyone["capped"]
    assert scoped["count"] == 2
    short = wall_queries.today_summary(repo, now, "Asia/Shanghai", scan=3)  # more of today's than were read
    assert short["capped"] and short["count"] == 3
