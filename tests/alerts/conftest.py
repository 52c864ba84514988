"""Databases for the alerts tests: a SQLite file in tmp_path and a fresh PostgreSQL schema (dropped afterwards)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.calendar import WorkingCalendar
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.db import make_engine, migrate
from alerts.repository import Repository
from geo.grids import GridFeature, load_geojson
from geo.routing import GridRouter
from gridwatch.redis_server import EmbeddedRedis, free_port
from gridwatch.settings import DEMO_GRIDS

ROOT_CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").resolve()
BACKENDS = ["sqlite", "postgresql"]


def _root_postgres_url(config: pytest.Config) -> str:
    # The suite's own conftest module, as pytest registered it ("import conftest" would be ambiguous here).
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == ROOT_CONFTEST:
            fn: Callable[[], str] = plugin.postgres_url
            return fn()
    raise RuntimeError(f"the suite's conftest {ROOT_CONFTEST} is not loaded")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with nothing in it yet: a new SQLite file (folder not yet created) or a new PG schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'gridwatch.db'}"
        return
    base = sa.make_url(_root_postgres_url(request.config))
    schema = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        # No fsync wait per commit: these tests never crash the server, and on a shared CI disk each commit
        # would otherwise cost milliseconds.
        url = base.update_query_dict({"options": f"-csearch_path={schema} -csynchronous_commit=off"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def repo(engine: Engine) -> Repository:
    return Repository(engine)


@pytest.fixture(scope="session")
def demo_features() -> list[GridFeature]:
    return load_geojson(DEMO_GRIDS)


@pytest.fixture()
def fixed_port_redis() -> Iterator[Callable[[], EmbeddedRedis]]:
    """Starts private redis-servers that all use one port, so a test can restart "the same" Redis; stops them all."""
    port = free_port()
    started: list[EmbeddedRedis] = []

    def start() -> EmbeddedRedis:
        server = EmbeddedRedis(port=port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# The case services on the demo grid map (a test file that needs other settings defines its own).
@pytest.fixture()
def router(repo: Repository, demo_features: list[GridFeature]) -> GridRouter:
    repo.replace_grids(demo_features)
    return GridRouter(demo_features)


@pytest.fixture()
def work(repo: Repository, router: GridRouter) -> Casework:
    return Casework(repo.engine, router, WorkingCalendar.load())


@pytest.fixture()
def service(repo: Repository, router: GridRouter) -> CaseService:
    return CaseService(repo.engine, router)
