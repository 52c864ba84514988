"""What one dashboard app serves from, kept on its Flask server so two apps in one process never share it."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import flask
import redis

from dashboard.wall_queries import AlertRepository
from gridwatch.settings import Settings

EXTENSION = "gridwatch_dashboard"


@dataclass(frozen=True)
class WallContext:
    settings: Settings
    repo: AlertRepository
    redis: redis.Redis
    ws_url: str
    stopping: threading.Event = field(default_factory=threading.Event)  # set on shutdown: streams end
    live_url: str | None = None  # the live video socket's (dashboard.live.LiveServer.url); None: none runs here


def attach(server: flask.Flask, ctx: WallContext) -> None:
    server.extensions[EXTENSION] = ctx


def of(server: flask.Flask) -> WallContext:
    try:
        ctx = server.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("this Flask app was not made by dashboard.app.create_app (no GridWatch context)") from None
    assert isinstance(ctx, WallContext)
    return ctx


def current() -> WallContext:
    """The context of the app handling the current request (routes, callbacks and page layouts)."""
    return of(flask.current_app)
