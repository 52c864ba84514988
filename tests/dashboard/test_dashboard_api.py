"""The JSON API, media and MJPEG routes over a real SQLite file and the private redis-server."""
from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dash
import pytest
import redis
import sqlalchemy as sa
from auth_testing import logged_in_client
from flask.testing import FlaskClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from alerts.repository import Repository
from dashboard.app import create_app
from dashboard.server import DashboardServer
from gridwatch.redis_server import free_port
from gridwatch.settings import Settings, load_settings
from gridwatch.types import Alert, CameraState, CameraStatus


def _client(settings: Settings, repo: Repository, redis_client: redis.Redis) -> FlaskClient:
    app = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws")
    try:
        return logged_in_client(app, repo)
    except sa.exc.OperationalError:  # a database that cannot be opened: only the public routes answer
        return app.server.test_client()


@pytest.fixture()
def api(settings: Settings, repo: Repository, redis_client: redis.Redis) -> FlaskClient:
    return _client(settings, repo, redis_client)


def test_healthz_reports_both_dependencies(api: FlaskClient) -> None:
    resp = api.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "redis": True, "database": True}


def test_healthz_is_503_naming_redis_when_it_is_down(settings: Settings, repo: Repository) -> None:
    # Nothing listens there; no retries, so the test does not sit through redis-py's backoff.
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    client = _client(settings, repo, dead)
    resp = client.get("/healthz")
    dead.close()
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "degraded", "redis": False, "database": True}


def test_healthz_is_503_naming_the_database_when_it_cannot_be_opened(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    engine = sa.create_engine(f"sqlite:///{blocker / 'gridwatch.db'}")
    client = _client(settings, Repository(engine), redis_client)
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "degraded", "redis": True, "database": False}
    # Without the database nobody can log in: the API says so rather than failing.
    assert client.get("/api/alerts").status_code == 401
    # A wall without logins (a closed demo network) still opens: video and pushes work without the database.
    open_settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"required": False})})
    open_client = _client(open_settings, Repository(engine), redis_client)
    assert open_client.get("/api/alerts").status_code == 503
    assert open_client.get("/").status_code == 200
    engine.dispose()


def test_cameras_list_state_from_redis_and_never_a_url(
    tmp_path: Path, redis_server: object, redis_client: redis.Redis, repo: Repository,
    publish_camera: Callable[..., CameraState],
) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data", demo={"enabled": False}, cameras=[
        {"id": "car-1", "name": "巡逻车 豫A·12345", "url": "rtsp://admin:s3cret@10.1.2.3:554/main"},
        {"id": "car-2", "name": "备用车", "url": "rtsp://viewer:pw2@10.1.2.4/live", "enabled": False},
    ])
    publish_camera("car-1", "巡逻车 豫A·12345", age_s=1.5)
    publish_camera("street-9", "Street 9", CameraStatus.STALLED, age_s=12.0,
                   error="no frame from rtsp://admin:s3cret@10.1.2.9:554/x for 12 s")
    client = _client(settings, repo, redis_client)

    resp = client.get("/api/cameras")

    assert resp.status_code == 200
    body = resp.get_json()
    assert [c["id"] for c in body] == ["car-1", "car-2", "street-9"]  # configured first, then published
    car1, car2, street = body
    assert car1["name"] == "巡逻车 豫A·12345"
    assert car1["state"] == "online"
    assert car1["fps"] == pytest.approx(4.9)
    assert car1["dropped"] == 3
    assert 1.0 <= car1["last_frame_age_s"] < 60
    assert car2["state"] == "disabled" and car2["last_frame_age_s"] is None
    assert street["state"] == "stalled" and street["error"] == "no frame from <url> for 12 s"
    text = resp.get_data(as_text=True)
    for leak in ("rtsp://", "s3cret", "pw2", "10.1.2."):
        assert leak not in text


def test_alerts_newest_first_with_names_and_limit(
    api: FlaskClient, store_alert: Callable[..., Alert]
) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    stored = [store_alert(detected_at=t0 + timedelta(minutes=i), category=c, publish=False)
              for i, c in enumerate(["0501", "0502", "0503", "0507"])]

    body = api.get("/api/alerts").get_json()

    assert [a["id"] for a in body] == [a.id for a in reversed(stored)]
    newest = body[0]
    assert newest["category"] == "0507"
    assert newest["category_zh"] == "乱堆物料"
    assert newest["category_en"] == "materials piled on the street"
    assert newest["camera_id"] == "car-1"
    assert newest["grid_code"] == "410105001001001"
    assert newest["confidence"] == pytest.approx(0.87)
    assert datetime.fromisoformat(newest["detected_at"]) == stored[-1].detected_at
    assert newest["lat"] == pytest.approx(34.7725) and newest["lon"] == pytest.approx(113.672)
    assert "snapshot_url" in newest
    assert [a["id"] for a in api.get("/api/alerts?limit=2").get_json()] == [stored[3].id, stored[2].id]


def test_a_grid_staff_user_lists_only_the_alerts_of_its_own_subtree(
    settings: Settings, repo: Repository, redis_client: redis.Redis, store_alert: Callable[..., Alert]
) -> None:
    mine = store_alert(grid_code="410105001001003", publish=False)
    store_alert(grid_code="410105001002001", publish=False)  # the neighbouring community
    store_alert(grid_code=None, publish=False)  # outside every grid: the territory's, not the community's
    app = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws")
    staff = logged_in_client(app, repo, "grid-a", role="grid_staff", scope_grid="410105001001")

    assert [a["id"] for a in staff.get("/api/alerts").get_json()] == [mine.id]
    assert len(logged_in_client(app, repo, "chief", role="supervisor").get("/api/alerts").get_json()) == 3


@pytest.mark.parametrize("limit", ["0", "501", "-3", "ten", "2.5"])
def test_alerts_limit_out_of_range_is_a_clear_400(api: FlaskClient, limit: str) -> None:
    resp = api.get(f"/api/alerts?limit={limit}")
    assert resp.status_code == 400
    assert resp.is_json
    assert "limit" in resp.get_json()["error"] and "500" in resp.get_json()["error"]


def test_media_serves_snapshots_and_nothing_outside_the_media_folder(
    api: FlaskClient, store_alert: Callable[..., Alert], settings: Settings
) -> None:
    alert = store_alert(snapshot="bus.jpg", publish=False)
    listed = api.get("/api/alerts").get_json()[0]
    assert listed["snapshot_url"] == alert.snapshot_url

    resp = api.get(listed["snapshot_url"])
    assert resp.status_code == 200
    assert resp.mimetype == "image/jpeg"
    assert resp.data[:2] == b"\xff\xd8"
    resp.close()

    secret = settings.data_dir / "gridwatch.db"  # beside the media folder: must never be served
    assert secret.exists()
    for path in ("/media/../gridwatch.db", "/media/%2e%2e/gridwatch.db", "/media/snapshots/../../gridwatch.db",
                 f"/media/{secret}", "/media/%2Fetc%2Fpasswd", "/media/snapshots"):
        resp = api.get(path)
        assert resp.status_code == 404, path
        assert b"SQLite format" not in resp.data


def _raw_get(port: int, path: str, cookie: dict[str, str], timeout: float = 5.0) -> tuple[socket.socket, bytes]:
    """A GET on a raw socket (with a login's cookie); returns the socket and the head (status line + headers)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: wall\r\nCookie: {cookie['Cookie']}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the headers of {path}"
        data += chunk
    return sock, data


def _first_jpeg(sock: socket.socket, buffered: bytes) -> bytes:
    data = buffered
    while True:
        start = data.find(b"\xff\xd8")
        end = data.find(b"\xff\xd9", start + 2) if start >= 0 else -1
        if end >= 0:
            return data[start:end + 2]
        chunk = sock.recv(65536)
        assert chunk, "stream ended before a whole JPEG"
        data += chunk


def test_mjpeg_streams_the_camera_preview_and_unknown_cameras_are_404(
    dashboard: DashboardServer, publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
    login_cookie: dict[str, str],
) -> None:
    preview = jpeg("bus.jpg", 320)
    publish_camera("car-1", "巡逻车 1", preview=preview)

    sock, head = _raw_get(dashboard.port, "/video/car-1.mjpg", login_cookie)
    try:
        assert head.startswith(b"HTTP/1.1 200")
        assert b"multipart/x-mixed-replace; boundary=" in head
        assert _first_jpeg(sock, head) == preview
    finally:
        sock.close()

    conn = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=5)
    conn.request("GET", "/video/nope.mjpg", headers=login_cookie)
    resp = conn.getresponse()
    assert resp.status == 404
    assert "nope" in json.loads(resp.read())["error"]
    conn.close()


def test_mjpeg_viewers_that_leave_free_their_server_thread(
    dashboard: DashboardServer, publish_camera: Callable[..., CameraState], jpeg: Callable[..., bytes],
    login_cookie: dict[str, str], settings: Settings,
) -> None:
    """More viewers come and go than the server has threads; each must be served, and the API still answers."""
    publish_camera("car-1", "巡逻车 1", preview=jpeg("bus.jpg", 160))

    def watch() -> tuple[socket.socket, bytes]:
        # A stream just closed holds its slot (dashboard.max_streams_per_user) until the server notices the
        # viewer left (within a frame interval): a 429 meanwhile is retried, the stream must come within 30 s.
        deadline = time.monotonic() + 30
        while True:
            sock, head = _raw_get(dashboard.port, "/video/car-1.mjpg", login_cookie)
            if not head.startswith(b"HTTP/1.1 429"):
                return sock, head
            sock.close()
            assert time.monotonic() < deadline, "a viewer's slot was never given back"
            time.sleep(0.2)

    for _ in range(24):  # > 16 threads: a viewer whose stream outlived it would starve the next ones
        sock, head = watch()
        _first_jpeg(sock, head)
        sock.close()
    # Several viewers at once (as many as one user may open) do not wait for one another either.
    viewers = [watch() for _ in range(settings.dashboard.max_streams_per_user)]
    for sock, head in viewers:
        assert _first_jpeg(sock, head)[:2] == b"\xff\xd8"
    conn = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=5)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200
    conn.close()
    for sock, _ in viewers:
        sock.close()


def test_create_app_twice_in_one_process_gives_two_working_walls(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    first = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws")
    second = create_app(settings, repo, redis_client, "ws://127.0.0.1:2/ws")
    for app in (first, second):
        assert isinstance(app, dash.Dash)
        deps = logged_in_client(app, repo).get("/_dash-dependencies").get_json()
        outputs = " ".join(d["output"] for d in deps)
        assert "wall-alerts-store.data" in outputs and "wall-camera-grid.children" in outputs


def test_the_wall_links_to_the_pages_the_user_may_open(
    settings: Settings, repo: Repository, redis_client: redis.Redis
) -> None:
    from gridwatch.i18n import translator

    app = create_app(settings, repo, redis_client, "ws://127.0.0.1:1/ws")
    from dashboard.pages.wall import page_nav  # a page module registers itself: only once an app exists

    def links(client: FlaskClient) -> list[str]:
        with client:  # keeps the request's context (its login) for the layout function
            assert client.get("/api/me").status_code == 200
            nav = page_nav(translator("en"))
        return [a.href for a in nav.children]

    assert links(logged_in_client(app, repo, "op", role="operator")) == ["/desk", "/logout"]
    assert links(logged_in_client(app, repo, "chief", role="supervisor")) == ["/desk", "/replay", "/logout"]
    assert links(logged_in_client(app, repo, "grid-a", role="grid_staff", scope_grid="410105001001")) == [
        "/staff", "/logout"]
