"""Fixtures shared by every test: real services only (a private redis-server, PostgreSQL when present)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings, load_settings
from gridwatch.settings.paths import SHARED_DIR

SHARED = SHARED_DIR
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("GRIDWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: tests need the shared weights and clips")
    return SHARED


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A private, empty redis-server for the whole session (never the machine's shared one)."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture()
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    """Settings on a fresh SQLite file and the private Redis; no demo car unless a test asks."""
    return load_settings(None, data_dir=tmp_path / "data", redis_url=redis_server.url, demo={"enabled": False})


def postgres_url() -> str:
    """The PostgreSQL test database; fails under CI=true when absent, skips with a reason elsewhere."""
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no PostgreSQL here"
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    return PG_URL
