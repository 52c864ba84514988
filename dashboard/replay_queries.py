"""The supervisor's replay without a browser: the search, one sighting's clip with its detection box, and the
case's timeline of sightings and audit events.

The box is drawn by the browser as an SVG over the unmodified clip (``viewBox`` = the clip's frame size, so it
scales and letterboxes exactly like the <video>): nothing is re-encoded on this 2-core server, the clip a
supervisor watches is byte for byte the one in the evidence bundle, and the box can be switched off.
"""
from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2

from alerts.casebook import CaseDetail
from alerts.sighting_search import SightingFilter, SightingHit, search_sightings
from alerts.workflow import Action, Status, allowed_actions
from dashboard.page_services import PageServices
from dashboard.staff_queries import case_in_scope
from geo.routing import GridRouter
from geo.scope import within
from gridwatch import media, timefmt

log = logging.getLogger(__name__)

# The buttons of the replay: confirm (verify) or reject what a camera reported, and the supervisor's checks.
REPLAY_ACTIONS: tuple[Action, ...] = (Action.VERIFY, Action.REJECT, Action.CHECK, Action.CLOSE)


class ScopeError(PermissionError):
    """A search or a case outside the user's grid."""


def parse_day_range(start: str | None, end: str | None, tz: str) -> tuple[datetime | None, datetime | None]:
    """Local dates (``YYYY-MM-DD``, both inclusive) -> [UTC start, UTC end) of those days in the city's zone."""
    zone = timefmt.zone(tz)

    def at(day: str | None, plus: int) -> datetime | None:
        if not day:
            return None
        d = date.fromisoformat(day[:10]) + timedelta(days=plus)
        return timefmt.to_utc(datetime.combine(d, time(), tzinfo=zone))

    return at(start, 0), at(end, 1)


def build_filter(router: GridRouter, scope: str | None, *, start: str | None = None, end: str | None = None,
                 tz: str = timefmt.DEFAULT_TIMEZONE, camera: str | None = None, grid: str | None = None,
                 category: str | None = None, statuses: list[str] | None = None, limit: int = 200) -> SightingFilter:
    """The search as the form gives it, limited to the user's subtree (ScopeError for a grid outside it)."""
    if grid and grid not in router:
        raise ValueError(f"grid {grid!r} is not in the grid map")
    if grid and not within(grid, scope):
        raise ScopeError(f"grid {grid} is outside your grid {scope}")
    seen_from, seen_to = parse_day_range(start, end, tz)
    return SightingFilter(
        seen_from=seen_from, seen_to=seen_to, camera_id=camera or None, grid=grid or scope,
        category=category or None, statuses=tuple(statuses or ()), limit=limit,
    )


def search(svc: PageServices, f: SightingFilter) -> list[SightingHit]:
    return search_sightings(svc.repo.engine, svc.router, f)


@functools.lru_cache(maxsize=256)
def _frame_size(path: str, mtime: float) -> tuple[int, int] | None:
    cap = cv2.VideoCapture(path)
    try:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    return (w, h) if w > 0 and h > 0 else None


def clip_frame_size(media_dir: Path, clip_url: str) -> tuple[int, int] | None:
    """(width, height) of a clip's frames: the coordinate space of the alert's box."""
    path = media_dir / clip_url.removeprefix(media.MEDIA_URL_PREFIX)
    try:
        return _frame_size(str(path), path.stat().st_mtime)
    except OSError:
        return None


@dataclass(frozen=True)
class Replay:
    detail: CaseDetail
    hit: SightingHit | None
    clip_url: str | None
    frame_size: tuple[int, int] | None
    bbox: tuple[float, float, float, float] | None
    offset_s: float | None  # where in the clip the detection happened
    actions: list[Action]


def replay(svc: PageServices, media_dir: Path, case_id: str, alert_id: str | None, scope: str | None,
           role: str, pre_seconds: float, now: datetime | None = None) -> Replay:
    """The case and, for ``alert_id`` (else its latest alert), the clip with the box to draw over it."""
    detail = svc.book.detail(case_id, now)
    if not case_in_scope(detail.case, scope):
        raise ScopeError(f"case {case_id} is outside your grid {scope}")
    hits = search_sightings(svc.repo.engine, svc.router, SightingFilter(case_id=case_id, limit=500))
    with_alert = [h for h in hits if h.alert_id]
    hit = next((h for h in with_alert if h.alert_id == alert_id), with_alert[0] if with_alert else None)
    clip = size = None
    if hit is not None and hit.alert_id is not None:
        clip = media.clip_url(media_dir, hit.alert_id, hit.seen_at)
        size = clip_frame_size(media_dir, clip) if clip else None
    actions = [a for a in allowed_actions(detail.case.status, role) if a in REPLAY_ACTIONS]
    return Replay(detail, hit, clip, size, hit.bbox if hit else None, pre_seconds if clip else None, actions)


def box_overlay(frame_size: tuple[int, int], bbox: tuple[float, float, float, float], label: str) -> dict[str, Any]:
    """What the SVG over the video draws: its viewBox and one rectangle with a label, in frame pixels."""
    w, h = frame_size
    x1, y1, x2, y2 = (max(0.0, v) for v in bbox)
    x2, y2 = min(x2, float(w)), min(y2, float(h))
    stroke = max(2.0, round(min(w, h) / 180, 1))
    return {
        "viewBox": f"0 0 {w} {h}",
        "rect": {"x": x1, "y": y1, "width": max(0.0, x2 - x1), "height": max(0.0, y2 - y1), "stroke": stroke},
        "label": {"x": x1, "y": max(stroke * 8, y1 - stroke * 2), "size": round(stroke * 7, 1), "text": label},
    }


def overlay_src(o: dict[str, Any]) -> str:
    """The overlay as a ``data:`` URL of an SVG, for an <img> laid over the <video> (no script, no request)."""
    rect, label = o["rect"], o["label"]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{o["viewBox"]}" preserveAspectRatio="xMidYMid meet">'
        f'<rect x="{rect["x"]:.1f}" y="{rect["y"]:.1f}" width="{rect["width"]:.1f}" height="{rect["height"]:.1f}" '
        f'fill="none" stroke="#f43f5e" stroke-width="{rect["stroke"]}"/>'
        f'<text x="{label["x"]:.1f}" y="{label["y"]:.1f}" font-size="{label["size"]}" fill="#f43f5e" '
        f'font-family="Noto Sans CJK SC, sans-serif">{html.escape(str(label["text"]))}</text></svg>'
    )
    return "data:image/svg+xml;charset=utf-8," + quote(svg)


def timeline_figure(detail: CaseDetail, tz: str, labels: dict[str, str],
                    event_label: Callable[[str], str] = str) -> dict[str, Any]:
    """Sightings (one row per camera) and the case's audit events on one time axis, in the city's zone;
    ``event_label`` words an event's new status (or its action) in the page's language."""
    cams = [s.camera_id or labels.get("report", "report") for s in detail.sightings]
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "name": labels.get("sightings", "sightings"),
        "x": [timefmt.to_local(s.seen_at, tz).isoformat() for s in detail.sightings], "y": cams,
        "customdata": [s.alert_id for s in detail.sightings],
        "text": [f"{(s.confidence or 0) * 100:.0f}%" for s in detail.sightings], "hoverinfo": "x+y+text",
        "marker": {"size": [16 if s.new_pass else 10 for s in detail.sightings], "color": "#38bdf8"},
    }]
    if detail.history:
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": labels.get("events", "events"),
            "x": [timefmt.to_local(e.at, tz).isoformat() for e in detail.history],
            "y": [labels.get("log", "log")] * len(detail.history),
            "text": [event_label(e.to_status or e.action) for e in detail.history], "textposition": "top center",
            "textfont": {"color": "#e8eef9", "size": 10},
            "hovertext": [f"{e.action} · {e.actor}" for e in detail.history], "hoverinfo": "x+text",
            "marker": {"size": 9, "color": "#f59e0b", "symbol": "diamond"},
        })
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 90, "r": 10, "t": 10, "b": 40}, "height": 220, "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#e8eef9"}, "showlegend": False,
            "xaxis": {"gridcolor": "#1f2c47", "type": "date"}, "yaxis": {"gridcolor": "#1f2c47", "type": "category"},
            "clickmode": "event",
        },
    }


def is_reported(status: str) -> bool:
    return status == Status.REPORTED
