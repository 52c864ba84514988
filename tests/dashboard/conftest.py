"""The dashboard over real parts: a migrated SQLite file, the private redis-server, real JPEGs from ../shared."""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis
from auth_testing import cookie_header, ensure_user

from alerts.db import make_engine, migrate
from alerts.repository import Repository
from dashboard.server import DashboardServer
from geo.grids import load_geojson
from gridwatch import keys
from gridwatch.events import alert_to_stream, camera_state_to_hash
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import DEMO_GRIDS, Settings
from gridwatch.types import Alert, CameraState, CameraStatus

GRID = "410105001001001"  # a level-3 grid of the demo map


@pytest.fixture()
def repo(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    repository = Repository(engine)
    repository.replace_grids(load_geojson(DEMO_GRIDS))
    yield repository
    engine.dispose()


def _jpeg_of(shared_dir: Path, name: str = "bus.jpg", width: int = 640) -> bytes:
    img = cv2.imread(str(shared_dir / "images" / name))
    assert img is not None, f"cannot read ../shared/images/{name}"
    h, w = img.shape[:2]
    img = cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(np.asarray(buf).tobytes())


def _make_alert(
    detected_at: datetime | None = None,
    category: str = "0502",
    camera_id: str = "car-1",
    grid_code: str | None = GRID,
    confidence: float = 0.87,
    snapshot_url: str | None = None,
) -> Alert:
    return Alert(
        id=uuid.uuid4().hex,
        camera_id=camera_id,
        category=category,
        confidence=confidence,
        detected_at=detected_at or datetime.now(UTC),
        lat=34.7725 if grid_code else None,
        lon=113.6720 if grid_code else None,
        grid_code=grid_code,
        snapshot_url=snapshot_url,
        bbox=(100.0, 120.0, 180.0, 330.0),
        track_id=7,
    )


@pytest.fixture()
def store_alert(
    repo: Repository, redis_client: redis.Redis, settings: Settings, shared_dir: Path
) -> Callable[..., Alert]:
    """Like the alert sink: snapshot on disk (optional), row in the database, then the entry on the stream."""

    def store(publish: bool = True, snapshot: str | None = None, **kw: object) -> Alert:
        """``snapshot``: a photo of ../shared/images to save as the alert's snapshot."""
        alert = _make_alert(**kw)  # type: ignore[arg-type]
        rel = None
        if snapshot:
            rel = f"snapshots/{alert.detected_at:%Y/%m/%d}/{alert.id}.jpg"
            path = settings.media_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_jpeg_of(shared_dir, snapshot, 480))
            alert = dataclasses.replace(alert, snapshot_url="/media/" + rel)
        assert repo.add_alert(alert, event_id=f"ev-{alert.id}", snapshot_path=rel)
        if publish:
            redis_client.xadd(keys.ALERTS_STREAM, alert_to_stream(alert))  # type: ignore[arg-type]
        return alert

    return store


def _publish_camera(
    client: redis.Redis,
    camera_id: str,
    name: str,
    status: CameraStatus = CameraStatus.ONLINE,
    preview: bytes | None = None,
    error: str | None = None,
    age_s: float = 0.4,
) -> CameraState:
    """What the worker writes: the state hash, the index entry and (optionally) the newest preview JPEG."""
    state = CameraState(camera_id, name, status, fps=4.9, frames=1234, dropped=3,
                        last_frame_at=datetime.now(UTC) - timedelta(seconds=age_s), error=error)
    client.hset(keys.camera_state(camera_id), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
    client.sadd(keys.CAMERA_INDEX, camera_id)
    if preview is not None:
        client.set(keys.camera_preview(camera_id), preview, px=60_000)
    return state


@pytest.fixture()
def jpeg(shared_dir: Path) -> Callable[..., bytes]:
    """``jpeg("bus.jpg", width=640)``: a real photo from ../shared as JPEG bytes."""
    return lambda name="bus.jpg", width=640: _jpeg_of(shared_dir, name, width)


@pytest.fixture()
def make_alert() -> Callable[..., Alert]:
    return _make_alert


@pytest.fixture()
def publish_camera(redis_client: redis.Redis) -> Callable[..., CameraState]:
    """``publish_camera(id, name, status=ONLINE, preview=jpeg_bytes, error=None, age_s=0.4)``."""
    return lambda *a, **kw: _publish_camera(redis_client, *a, **kw)


@pytest.fixture()
def dashboard(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis
) -> Iterator[DashboardServer]:
    server = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    yield server
    server.stop()


@pytest.fixture()
def login_cookie(dashboard: DashboardServer, repo: Repository) -> dict[str, str]:
    """{"Cookie": ...} of a logged-in admin ("tester") of the running ``dashboard``, for raw HTTP requests."""
    ensure_user(repo)
    return cookie_header(dashboard.url, "tester")


def _root_postgres_url(config: pytest.Config) -> str:
    # The suite's own conftest module, as pytest registered it ("import conftest" would be ambiguous here).
    root = (Path(__file__).resolve().parents[1] / "conftest.py").resolve()
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == root:
            fn: Callable[[], str] = plugin.postgres_url
            return fn()
    raise RuntimeError(f"the suite's conftest {root} is not loaded")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_repo(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Repository]:
    """A migrated database with the demo grid map: the settings' SQLite file, or a fresh PostgreSQL schema."""
    import sqlalchemy as sa

    if request.param == "sqlite":
        engine = make_engine(settings.effective_database_url)
        admin = None
    else:
        base = sa.make_url(_root_postgres_url(request.config))
        schema = f"gw_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = base.update_query_dict({"options": f"-csearch_path={schema} -csynchronous_commit=off"})
        engine = make_engine(url.render_as_string(hide_password=False))
    migrate(engine)
    repository = Repository(engine)
    repository.replace_grids(load_geojson(DEMO_GRIDS))
    yield repository
    engine.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
