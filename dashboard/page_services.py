"""What the desk, replay, staff and admin pages act through: one CaseBook, Casework and CaseService per app.

They are built on first use from the app's repository (the grid map is read from the database then) and kept
on the Flask app, so two apps in one process never share them. ``reload_grids`` rebuilds them after an admin
imported a new grid map, so routing and dispatch targets follow the new map at once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import flask
from sqlalchemy.engine import Engine

from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.repository import Repository
from dashboard.context import WallContext
from dashboard.context import of as context_of
from geo.routing import GridRouter

EXTENSION = "gridwatch_pages"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class PageServices:
    engine: Engine
    repo: Repository
    router: GridRouter
    book: CaseBook
    casework: Casework
    cases: CaseService


def build(ctx: WallContext) -> PageServices:
    repo = ctx.repo
    if not isinstance(repo, Repository):
        raise TypeError("the case pages need alerts.repository.Repository as the dashboard's repository")
    fallback = ctx.settings.cases.fallback_grid
    router = ctx.grid_maps.router(fallback) if ctx.grid_maps is not None else GridRouter(repo.list_grids(), fallback)
    return PageServices(
        engine=repo.engine, repo=repo, router=router, book=CaseBook(repo.engine, router),
        casework=Casework(repo.engine, router, settings=ctx.settings.cases),
        cases=CaseService(repo.engine, router, ctx.settings.cases),
    )


def of(server: flask.Flask) -> PageServices:
    found = server.extensions.get(EXTENSION)
    if isinstance(found, PageServices):
        return found
    with _LOCK:
        found = server.extensions.get(EXTENSION)
        if not isinstance(found, PageServices):
            found = server.extensions[EXTENSION] = build(context_of(server))
        return found


def current() -> PageServices:
    """The services of the app handling the current request (layouts, callbacks, routes)."""
    return of(flask.current_app)


def reload_grids(server: flask.Flask) -> PageServices:
    """After an import on this server: the new map at once (the watcher would take it within seconds)."""
    grid_maps = context_of(server).grid_maps
    if grid_maps is not None:
        grid_maps.check()  # every router of this process, the pages' included, now answers from the new map
        return of(server)
    with _LOCK:
        fresh = server.extensions[EXTENSION] = build(context_of(server))
    return fresh
