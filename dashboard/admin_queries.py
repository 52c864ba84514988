"""The admin page without a browser: cameras (the same registry file and announcement as /api/cameras/config),
grid import as a background job with its progress in Redis, and users with their roles and scopes.

A grid import runs in a thread of its own: the upload's callback returns at once with a job id and the page
polls :func:`import_status` (a Redis hash that lapses after an hour), so a 13,869-polygon map neither blocks
a server thread for its whole length nor leaves the admin looking at a frozen page.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from alerts.repository import Repository
from alerts.users import User, UserError, UserStore
from alerts.workflow import Role
from geo.datum import geojson_to_wgs84
from geo.grids import GridError, geometry_problems, load_geojson
from gridwatch.settings import Settings
from ingest.registry import CameraRegistry, RegistryError, camera_view, redis_announcer

log = logging.getLogger(__name__)

IMPORT_PREFIX = "gridwatch:admin:grid-import:"
IMPORT_TTL_S = 3600
MAX_GRID_FILE = 200 * 1024 * 1024
_PROGRESS_EVERY = 200  # features between two progress writes


# --- cameras ------------------------------------------------------------------------------------------------------

def registry(settings: Settings, client: redis.Redis) -> CameraRegistry:
    """The camera registry the /api/cameras/config routes use: same file, same lock, workers told by Redis."""
    return CameraRegistry.for_settings(settings, redis_announcer(client))


def list_cameras(reg: CameraRegistry) -> list[dict[str, Any]]:
    return [camera_view(c) for c in reg.load()]


def add_camera(reg: CameraRegistry, camera_id: str, name: str, url: str, lat: float | None = None,
               lon: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": (camera_id or "").strip(), "name": (name or "").strip(), "url": (url or "").strip()}
    if lat is not None and lon is not None:
        body.update(lat=lat, lon=lon)
    return camera_view(reg.add(body))


def remove_camera(reg: CameraRegistry, camera_id: str) -> None:
    reg.remove(camera_id)


def set_camera_enabled(reg: CameraRegistry, camera_id: str, enabled: bool) -> None:
    reg.set_enabled(camera_id, enabled)


# --- grid import ----------------------------------------------------------------------------------------------------

@dataclass
class ImportStatus:
    job: str
    stage: str  # queued, reading, checking, storing, done, failed
    done: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)
    imported: int = 0

    @property
    def percent(self) -> int:
        weights = {"queued": 0, "reading": 5, "checking": 10, "storing": 85, "done": 100, "failed": 100}
        base = weights.get(self.stage, 0)
        if self.stage == "checking" and self.total:
            return 10 + int(75 * self.done / self.total)
        return base

    def to_json(self) -> str:
        return json.dumps({"job": self.job, "stage": self.stage, "done": self.done, "total": self.total,
                           "problems": self.problems, "imported": self.imported}, ensure_ascii=False)


def _key(job: str) -> str:
    return IMPORT_PREFIX + job


def _put(client: redis.Redis, status: ImportStatus) -> None:
    client.set(_key(status.job), status.to_json(), ex=IMPORT_TTL_S)


def import_status(client: redis.Redis, job: str) -> ImportStatus | None:
    raw = client.get(_key(job))
    if raw is None:
        return None
    d = json.loads(raw)
    return ImportStatus(d["job"], d["stage"], d["done"], d["total"], list(d["problems"]), d["imported"])


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload data URL."""
    _, _, payload = (contents or "").partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise GridError("(upload)", ["the upload is damaged (not base64)"]) from None
    if len(data) > MAX_GRID_FILE:
        raise GridError("(upload)", [f"the file is larger than {MAX_GRID_FILE // (1024 * 1024)} MiB"])
    return data


def run_import(client: redis.Redis, repo: Repository, job: str, data: bytes, datum: str,
               on_done: Callable[[], object] | None = None) -> ImportStatus:
    """Validate and import a grid map, writing progress as it goes; nothing is stored unless all is valid."""
    status = ImportStatus(job, "reading")
    _put(client, status)
    try:
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GridError("(upload)", [f"not valid JSON: {exc}"]) from None
        if isinstance(doc, dict):
            doc = geojson_to_wgs84(doc, datum)
        raw = doc.get("features") if isinstance(doc, dict) else None
        status.stage, status.total = "checking", len(raw) if isinstance(raw, list) else 0
        _put(client, status)
        # The geometry checks are the slow part: run them feature by feature first so progress moves, then the
        # full check (properties, codes, hierarchy) names every problem by feature.
        for i, feature in enumerate(raw or []):
            if isinstance(feature, dict):
                geometry_problems(feature.get("geometry"))
            if (i + 1) % _PROGRESS_EVERY == 0:
                status.done = i + 1
                _put(client, status)
        status.done = status.total
        features = load_geojson(doc)
        status.stage = "storing"
        _put(client, status)
        status.imported = repo.replace_grids(features)
        status.stage = "done"
        if on_done is not None:
            on_done()
    except GridError as exc:
        status.stage, status.problems = "failed", exc.problems
    except Exception as exc:  # noqa: BLE001 - the page must hear about any failure; the log has the trace
        log.exception("grid import %s failed", job)
        status.stage, status.problems = "failed", [f"{type(exc).__name__}: {exc}"]
    _put(client, status)
    log.info("grid import %s: %s (%d grids, %d problems)", job, status.stage, status.imported, len(status.problems))
    return status


def start_import(client: redis.Redis, repo: Repository, data: bytes, datum: str,
                 on_done: Callable[[], object] | None = None) -> str:
    """Start an import in a background thread; returns the job id to poll."""
    job = uuid.uuid4().hex
    _put(client, ImportStatus(job, "queued"))
    # A one-off job that ends by itself (nothing stops it, nothing loops): a plain thread, not a ThreadPart.
    threading.Thread(target=run_import, args=(client, repo, job, data, datum, on_done),
                     name=f"grid-import-{job[:8]}", daemon=True).start()
    return job


def problem_rows(problems: list[str]) -> list[tuple[str, str]]:
    """(feature, problem) pairs: ``feature #3 (code '41..'): parent ...`` -> ("feature #3 (code '41..')", ...)."""
    rows = []
    for p in problems:
        where, sep, what = p.partition(": ")
        rows.append((where, what) if sep and where.startswith("feature #") else ("", p))
    return rows


# --- users ----------------------------------------------------------------------------------------------------------

def list_users(store: UserStore) -> list[User]:
    return store.all()


def add_user(store: UserStore, username: str, password: str, role: str, display_name: str | None,
             scope_grid: str | None, department: str | None) -> User:
    return store.add(username.strip(), password, Role(role), display_name=display_name or None,
                     scope_grid=scope_grid or None, department=department or None)


def change_user(store: UserStore, username: str, role: str, scope_grid: str | None, active: bool = True) -> User:
    """Set a user's role and scope (an empty scope = the whole territory)."""
    if not username:
        raise UserError("choose a user")
    return store.update(username, role=Role(role), scope_grid=scope_grid or None, clear_scope=not scope_grid,
                        active=active)


__all__ = ["RegistryError", "UserError", "GridError"]
