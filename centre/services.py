"""What every process role builds first: Redis, the migrated database with its grid map, the grid routers that
follow the stored map, the verdict filters; and the heartbeat's lifetime."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from alerts.db import make_engine, migrate
from alerts.filters import FilterSet, FilterWatcher
from alerts.gridstaff import GridStaffStore
from alerts.repository import Repository
from dashboard.auth.policy import refuse_open_exposure
from geo.datum import map_source_in_wgs84
from geo.gridmap import GridMapWatcher
from geo.grids import load_geojson
from gridwatch.lifecycle import Lifecycle
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisHandle:
    client: redis.Redis
    url: str  # with the password; never log it, use mask_url


def check_production(settings: Settings, command: str, *, shared_with: str) -> None:
    """A production process (``gridwatch worker``, ``alerts``, ``dashboard``) shares Redis with the others and
    refuses settings that would open the centre to everybody (``dashboard.auth.policy.refuse_open_exposure``)."""
    if settings.redis_url is None:
        raise SystemExit(f"gridwatch {command} needs redis_url (REDIS_URL) shared with the {shared_with}")
    refuse_open_exposure(settings, command)


def open_redis(settings: Settings, life: Lifecycle) -> RedisHandle:
    """REDIS_URL when set, else a private redis-server that stops with the lifecycle: its data in an append-only
    file in ``data_dir/redis`` (tracks and coverage outlive a restart), restarted by a supervisor if it dies."""
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
    else:
        server = EmbeddedRedis(data_dir=settings.data_dir / "redis", supervise=True).start()
        life.started(f"private redis-server on port {server.port}", server.stop)
        url = server.url
    client = redis.Redis.from_url(url, health_check_interval=30)
    client.ping()
    life.started("redis client", client.close)
    return RedisHandle(client, url)


def open_repository(settings: Settings, life: Lifecycle) -> Repository:
    """Migrate the database and import the configured grid map when it holds no grids yet."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    life.started("database engine", engine.dispose)
    migrate(engine)
    repo = Repository(engine)
    if settings.grids_file is not None and repo.grid_count() == 0:
        source = map_source_in_wgs84(settings.grids_file, settings.locale.grids_datum)
        features = load_geojson(source)
        count = repo.replace_grids(features)
        staff = GridStaffStore(engine).replace_all(features)
        log.info("imported %d grids (%d staff names) from %s", count, staff, settings.grids_file)
    return repo


def start_grid_maps(repo: Repository, life: Lifecycle) -> GridMapWatcher:
    """Grid routers that follow the stored map: an import while this process runs is taken within seconds."""
    watcher = GridMapWatcher(repo).start()
    life.started("grid map watcher", watcher.stop)
    return watcher


def start_verdict_filters(repo: Repository, settings: Settings, life: Lifecycle) -> FilterSet:
    """The verdict filters new alerts are scored with, following the stored ones (`gridwatch learn`)."""
    filters = FilterSet(settings.learning.review_threshold, settings.learning.enabled)
    watcher = FilterWatcher(repo.engine, filters, settings.learning.reload_seconds).start()
    life.started("verdict filter watcher", watcher.stop)
    return filters
