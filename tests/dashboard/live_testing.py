"""A whole dashboard on real parts for tests and benches: waitress with every blueprint (cases, fleet, telemetry,
Open311, cameras, evidence), the private redis-server, a migrated SQLite file, users with one password.

    with live_centre(tmp_path / "data", redis_server.url, users=[("op", "operator", None)]) as centre:
        centre.session("op").get(centre.url + "api/me")
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from auth_testing import add_user, login

from alerts.repository import Repository
from centre.dashboard import start_dashboard
from centre.services import open_redis, open_repository
from gridwatch.lifecycle import Lifecycle
from gridwatch.settings import Settings, load_settings

TOKEN = "live-device-token-0123456789"
PASSWORD = "live-password-1"


@dataclass
class Centre:
    settings: Settings
    repo: Repository
    url: str  # ends with "/"

    def session(self, username: str) -> requests.Session:
        s = requests.Session()
        s.headers["Accept-Language"] = "en"  # errors in English, to read them in tests
        login(s, self.url, username, PASSWORD)
        return s

    def files(self, folder: str) -> list[Path]:
        return sorted(p for p in (self.settings.media_dir / folder).rglob("*") if p.is_file())


@contextlib.contextmanager
def live_centre(data_dir: Path, redis_url: str, users: Sequence[tuple[str, str, str | None]] = (),
                **overrides: Any) -> Iterator[Centre]:
    """``users``: (name, role, scope grid or None), all with PASSWORD; ``overrides``: settings sections."""
    settings = load_settings(
        None, data_dir=data_dir, redis_url=redis_url, demo={"enabled": False},
        dashboard={"port": 0, "ws_port": 0, "live_port": 0, **overrides.pop("dashboard", {})},
        ingest={"telemetry_ws_port": 0}, auth={"device_token": TOKEN, **overrides.pop("auth", {})}, **overrides,
    )
    with Lifecycle() as life:
        handle = open_redis(settings, life)
        repo = open_repository(settings, life)
        server = start_dashboard(settings, handle, repo, life)
        for name, role, scope in users:
            add_user(repo, name, PASSWORD, role, scope)
        yield Centre(settings, repo, server.url)
