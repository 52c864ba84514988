"""What a grid-scoped user may see of the centre's shared things: media files, cameras, vehicles and coverage.

A user with the whole territory (no scope, not a department) sees everything. A scoped user sees

* a snapshot or clip (``snapshots/.../<alert id>.jpg``, ``clips/.../<alert id>.mp4``) when its alert's grid lies in
  their subtree or its alert is a sighting of a case they may see (dispatched to them from elsewhere), a feedback
  photo (``feedback/.../<case id>-....``) when they may see its case; other media
  (reports, the demo) is the centre's;
* a camera when its fixed position lies in their subtree (moving patrol cars are the centre's);
* a vehicle while its last fix lies in their subtree, with its track and coverage cut to the subtree;
* coverage: the grids, cells and track points in their subtree.

Every test of "in the subtree" is geo.scope.within.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from alerts.cases import CaseNotFoundError
from alerts.sightings import case_of_alert
from dashboard import page_services
from dashboard.auth import policy, session
from dashboard.context import current
from geo.scope import within


def _whole_territory(user: session.AuthUser) -> bool:
    return user.scope_grid is None and not (user.role == "department" and user.department is not None)


def _grid_at(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None:
        return None
    ref = page_services.current().router.locate(lat, lon)
    return None if ref is None else ref.code


def media_allowed(user: session.AuthUser, path: str) -> bool:
    if _whole_territory(user):
        return True
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    stem = PurePosixPath(path).stem
    if parts[0] in ("snapshots", "clips"):
        get_alert = getattr(current().repo, "get_alert", None)
        alert = get_alert(stem) if get_alert is not None else None
        if alert is None:
            return False
        return (user.scope_grid is not None and within(alert.grid_code, user.scope_grid)) or \
            _case_of_alert_visible(user, alert.id)
    if parts[0] == "feedback":
        try:
            case = page_services.current().book.get(stem.split("-", 1)[0])
        except CaseNotFoundError:
            return False
        return policy.case_visible(user, case)
    return False


def _case_of_alert_visible(user: session.AuthUser, alert_id: str) -> bool:
    """Whether the case the alert is a sighting of is one ``user`` may see (its grid, holder or department)."""
    services = page_services.current()
    case_id = case_of_alert(services.repo.engine, alert_id)
    if case_id is None:
        return False
    try:
        return policy.case_visible(user, services.book.get(case_id))
    except CaseNotFoundError:
        return False


def cameras_allowed(user: session.AuthUser) -> set[str] | None:
    """The camera ids a user may watch; None = all."""
    if _whole_territory(user):
        return None
    return {c.id for c in current().settings.cameras
            if user.scope_grid is not None and within(_grid_at(c.lat, c.lon), user.scope_grid)}


def _in(user: session.AuthUser, lat: float | None, lon: float | None) -> bool:
    return user.scope_grid is not None and within(_grid_at(lat, lon), user.scope_grid)


def _points(user: session.AuthUser, points: Iterable[Any]) -> list[Any]:
    return [p for p in points if _in(user, p[0], p[1])]


def vehicles(user: session.AuthUser, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if _whole_territory(user):
        return views
    shown = []
    for v in views:
        fix = v.get("last_fix") or {}
        if not _in(user, fix.get("lat"), fix.get("lon")):
            continue
        shown.append({**v, "track": _points(user, v.get("track") or []),
                      "covered_grids": [c for c in v.get("covered_grids") or []
                                        if within(c, user.scope_grid)]})
    return shown


def coverage(user: session.AuthUser, body: dict[str, Any]) -> dict[str, Any]:
    if _whole_territory(user):
        return body
    grids = [g for g in body.get("grids") or [] if within(g.get("code"), user.scope_grid)]
    cells = [c for c in body.get("cells") or [] if _in(user, c.get("lat"), c.get("lon"))]
    vehicles_out = []
    for v in body.get("vehicles") or []:
        lines = [kept for line in v.get("polylines") or [] if (kept := _points(user, line))]
        if lines:
            vehicles_out.append({**v, "polylines": lines})
    return {**body, "grids": grids, "cells": cells, "vehicles": vehicles_out}
