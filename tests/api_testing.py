"""One route module of dashboard/api on a bare Flask app, for tests of that module alone: the app carries a
services bundle of real parts (a migrated SQLite file in ``settings.data_dir``, the given Redis), with the parts a
test wants to hold swapped in (e.g. ``telemetry=ingest``)."""
from __future__ import annotations

import dataclasses
from typing import Any

import flask
import redis

from alerts.db import make_engine, migrate
from alerts.repository import Repository
from dashboard import page_services
from gridwatch.settings import Settings


def api_app(settings: Settings, client: redis.Redis, blueprint: flask.Blueprint, **parts: Any) -> flask.Flask:
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    services = dataclasses.replace(page_services.build(settings, Repository(engine), client), **parts)
    app = flask.Flask(f"test-{blueprint.name}")
    page_services.attach(app, services)
    app.register_blueprint(blueprint)
    return app
