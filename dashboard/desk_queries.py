"""The operator's desk without a browser: the queue, one alert's detail, the claim, and the actions.

A *claim* makes sure two operators never act on the same alert at once: picking an alert claims its case
(dashboard.claims: one Redis key, ``SET NX PX``, the holder's name in it -- the same claim the cases API
checks), every action checks the claim on the server before it touches the case, and the claim is released
after the action or lapses after ``auth.claim_seconds`` if the operator walks away. A second operator gets
:class:`ClaimedError` naming who holds it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import redis

from alerts import verdicts
from alerts.casebook import CaseBook, CaseFilter, CaseView, SightingView
from alerts.casework import Target
from alerts.nearby import NearbyCase, nearby_open_cases
from alerts.workflow import Action, Actor, RejectReason, Status, WorkflowError, allowed_actions
from dashboard.claims import ClaimHeldError, Claims
from dashboard.claims import key as claim_key
from dashboard.page_services import PageServices
from geo.routing import GridRouter, Route
from gridwatch import media
from gridwatch.types import Alert

log = logging.getLogger(__name__)

CLAIM_TTL_MS = 120_000
NEARBY_RADIUS_M = 150.0
QUEUE_SIZE = 60
# What is waiting for the desk: new alerts to verify, and cases coming back to be (re)assigned.
DESK_STATUSES: tuple[Status, ...] = (
    Status.REPORTED, Status.VERIFIED, Status.REGISTERED, Status.REWORK, Status.ESCALATED,
)
KIND = "case"  # the desk claims cases (an alert's case), the same keys the cases API checks


class ClaimedError(WorkflowError):
    """Another operator holds the alert; ``holder`` is their display name."""

    def __init__(self, case_id: str, holder: str) -> None:
        self.case_id = case_id
        self.holder = holder
        super().__init__(f"case {case_id} is being handled by {holder}")


@dataclass(frozen=True, slots=True)
class Claim:
    case_id: str
    user: str
    name: str
    mine: bool


def claim(client: redis.Redis, case_id: str, user: str, name: str | None = None,
          ttl_ms: int = CLAIM_TTL_MS) -> Claim:
    """Claim a case for ``user`` (or renew their own claim); ``mine`` is False when someone else holds it."""
    try:
        held = Claims(client, ttl_ms / 1000).claim(KIND, case_id, user, name or user)
    except ClaimHeldError as exc:
        return Claim(case_id, exc.holder.username, exc.holder.display_name, mine=False)
    return Claim(case_id, held.username, held.display_name, mine=True)


def ensure_claim(client: redis.Redis, case_id: str, user: str, name: str | None = None) -> Claim:
    """The claim for an action: ClaimedError when another operator holds the case."""
    c = claim(client, case_id, user, name)
    if not c.mine:
        raise ClaimedError(case_id, c.name)
    return c


def release(client: redis.Redis, case_id: str, user: str) -> bool:
    """Let go of our own claim; False when there was none or it is someone else's."""
    try:
        return Claims(client, CLAIM_TTL_MS / 1000).release(KIND, case_id, user)
    except ClaimHeldError:
        return False


def holders(client: redis.Redis, case_ids: list[str]) -> dict[str, tuple[str, str]]:
    """case id -> (username, display name) of the cases someone holds now (one round trip)."""
    if not case_ids:
        return {}
    raw = cast(list[Any], client.mget([claim_key(KIND, c) for c in case_ids]))
    out: dict[str, tuple[str, str]] = {}
    for cid, value in zip(case_ids, raw, strict=True):
        if value is None:
            continue
        try:
            d = json.loads(value)
            out[cid] = (str(d["username"]), str(d.get("display_name") or d["username"]))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable claim on case %s", cid)
    return out


# --- reads ----------------------------------------------------------------------------------------------------

SORT_DEFAULT = "default"
SORT_UNCERTAIN = "uncertain"


def desk_queue(book: CaseBook, scope: str | None = None, limit: int = QUEUE_SIZE,
               now: datetime | None = None, uncertain_around: float | None = None) -> list[CaseView]:
    """Cases waiting for the desk (in ``scope``'s subtree when given): cases a camera saw clear (现场复查: 已无,
    closed with one action), then coming-back cases with a deadline, then new alerts newest first. One item per
    case, however often it was seen. Cases the verdict filter doubted wait in the low lane (``low_lane``).
    ``uncertain_around``: the review threshold; waiting cases whose score is nearest it come first (the verdicts
    that teach the filter most), unscored ones after them."""
    clear = book.queue(CaseFilter(statuses=[Status.HANDLED.value], possibly_resolved_only=True, grid=scope,
                                  limit=limit, lane="wall"), now=now)
    waiting = book.queue(CaseFilter(statuses=[s.value for s in DESK_STATUSES], grid=scope, limit=limit,
                                    lane="wall", uncertain_first=uncertain_around), now=now)
    return (clear + waiting)[:limit]


def low_lane(book: CaseBook, scope: str | None = None, limit: int = QUEUE_SIZE, now: datetime | None = None,
             uncertain_around: float | None = None) -> tuple[list[CaseView], int]:
    """(the first ``limit`` open cases of the low-priority lane, how many there are in all): alerts the verdict
    filter scored below ``learning.review_threshold``, kept off the wall but never dropped."""
    f = CaseFilter(open_only=True, grid=scope, limit=limit, lane="low", uncertain_first=uncertain_around)
    return book.queue(f, now=now), book.count(f, now=now)


def reason_options(category: str, lang: str) -> list[dict[str, str]]:
    """The reasons an operator picks from when rejecting an alert of ``category`` (dropdown options)."""
    return [{"label": r.name(lang), "value": r.code} for r in verdicts.reasons(category, real=False)]


@dataclass(frozen=True)
class DeskDetail:
    case: CaseView
    sighting: SightingView | None  # the latest
    alert: Alert | None  # the latest sighting's alert (None for a person's report)
    clip_url: str | None
    suggested: Route
    nearby: list[NearbyCase]
    actions: list[Action]
    clear: SightingView | None = None  # the latest pass that saw the place clear (现场复查: 已无), with its picture


def latest_alert_sighting(sightings: list[SightingView]) -> SightingView | None:
    with_alert = [s for s in sightings if s.alert_id]
    return with_alert[-1] if with_alert else (sightings[-1] if sightings else None)


def latest_clear_pass(sightings: list[SightingView]) -> SightingView | None:
    clear = [s for s in sightings if s.kind == "clear"]
    return clear[-1] if clear else None


def desk_detail(svc: PageServices, media_dir: Path, case_id: str, role: str,
                now: datetime | None = None) -> DeskDetail:
    case = svc.book.get(case_id, now)
    sightings = svc.book.sightings(case_id)
    sighting = latest_alert_sighting(sightings)
    alert = svc.repo.get_alert(sighting.alert_id) if sighting and sighting.alert_id else None
    clip = media.clip_url(media_dir, alert.id, alert.detected_at) if alert else None
    if clip is None and sighting is not None:
        clip = sighting.clip_url
    suggested = suggested_route(svc.router, case)
    nearby: list[NearbyCase] = []
    if case.lat is not None and case.lon is not None:
        nearby = nearby_open_cases(svc.repo.engine, case.lat, case.lon, NEARBY_RADIUS_M, exclude=[case.id], now=now)
    return DeskDetail(case, sighting, alert, clip, suggested, nearby,
                      allowed_actions(case.status, role, seen_clear=case.seen_clear),
                      latest_clear_pass(sightings) if case.seen_clear else None)


def suggested_route(router: GridRouter, case: CaseView) -> Route:
    """Where GridRouter sends the case's position (its stored route when it has no position)."""
    if case.lat is not None and case.lon is not None:
        return router.route(case.lat, case.lon)
    code = case.grid_code or case.community_code or case.office_code
    return router.route_for(code) if code and code in router else router.route(None, None)


def grid_choices(router: GridRouter, scope: str | None = None) -> list[tuple[str, str]]:
    """(code, "name (code)") of every grid a case can be assigned to, communities and grids, in scope."""
    out = []
    for code in router.codes():
        if scope is not None and not router.is_within(code, scope):
            continue
        f = router.feature(code)
        out.append((code, f"{f.name} ({code})"))
    return out


# --- actions (each checks the claim first) ------------------------------------------------------------------

def assign(svc: PageServices, client: redis.Redis, case_id: str, actor: Actor, display: str,
           grid: str | None = None, department: str | None = None, note: str | None = None) -> CaseView:
    """Confirm and dispatch in one go: verify and register a new alert, then dispatch it to the grid and/or
    department; a case back for rework or escalated is dispatched again (reassigned)."""
    if not grid and not department:
        raise WorkflowError("choose a grid or a department to assign the case to")
    ensure_claim(client, case_id, actor.name, display)
    case = svc.book.get(case_id)
    if case.status == Status.REPORTED:
        case = svc.casework.verify(case_id, actor, note=note)
    if case.status == Status.VERIFIED:
        case = svc.casework.register(case_id, actor)
    case = svc.casework.dispatch(case_id, actor, Target(grid=grid or None, department=department or None),
                                 note=note)
    release(client, case_id, actor.name)
    return case


def reject_false_alarm(svc: PageServices, client: redis.Redis, case_id: str, actor: Actor, display: str,
                       note: str | None = None, reason: str | None = None) -> CaseView:
    """Reject as a false alarm; ``reason`` (alerts.verdicts) is stored with the verdict and what the pipeline saw."""
    ensure_claim(client, case_id, actor.name, display)
    case = svc.casework.reject(case_id, actor, RejectReason.FALSE_ALARM.value, note=note, verdict_reason=reason)
    release(client, case_id, actor.name)
    return case


def promote(svc: PageServices, client: redis.Redis, case_id: str, actor: Actor, display: str) -> CaseView:
    """Move a low-lane case to the wall (one key on the desk)."""
    ensure_claim(client, case_id, actor.name, display)
    return svc.casework.promote(case_id, actor)


def close_seen_clear(svc: PageServices, client: redis.Redis, case_id: str, actor: Actor, display: str,
                     note: str | None = None) -> CaseView:
    """Close a case a camera's pass saw clear (现场复查: 已无): the operator's check after looking at its picture.
    The workflow refuses it for a case not seen clear since its last sighting."""
    ensure_claim(client, case_id, actor.name, display)
    case = svc.casework.close(case_id, actor, note=note)
    release(client, case_id, actor.name)
    return case


def merge_into(svc: PageServices, client: redis.Redis, case_id: str, into: str, actor: Actor, display: str,
               note: str | None = None) -> CaseView:
    """Fold the picked alert's case into an existing case (it ends as a rejected duplicate)."""
    ensure_claim(client, case_id, actor.name, display)
    svc.cases.merge(into, [case_id], actor, note)
    release(client, case_id, actor.name)
    return svc.book.get(into)


# --- the small offline map --------------------------------------------------------------------------------------

def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def position_figure(router: GridRouter, case: CaseView, suggested: Route, nearby: list[NearbyCase],
                    labels: dict[str, str]) -> dict[str, Any]:
    """A plotly figure (as a dict) of the case's position among the grids around it: polygons drawn as
    traces, so it works offline with no tile server. ``labels``: "case", "nearby" in the page's language."""
    traces: list[dict[str, Any]] = []
    focus = suggested.responsible
    shown: list[str] = []
    if focus is not None and focus in router:
        parent = router.parent(focus)
        shown = [c for c in router.codes(router.level(focus)) if parent is None or router.parent(c) == parent]
    for code in shown:
        f = router.feature(code)
        hit = code == focus
        for ring in _rings(f.geometry):
            traces.append({
                "type": "scatter", "mode": "lines", "x": [p[0] for p in ring], "y": [p[1] for p in ring],
                "fill": "toself", "hoverinfo": "text", "text": f"{f.name} ({code})", "showlegend": False,
                "line": {"color": "#38bdf8" if hit else "#334155", "width": 3 if hit else 1},
                "fillcolor": "rgba(56,189,248,0.18)" if hit else "rgba(51,65,85,0.15)",
            })
    if nearby:
        traces.append({
            "type": "scatter", "mode": "markers", "name": labels.get("nearby", "nearby"),
            "x": [n.case.lon for n in nearby], "y": [n.case.lat for n in nearby],
            "text": [f"{n.case.id[:8]} · {n.distance_m:.0f} m" for n in nearby], "hoverinfo": "text",
            "marker": {"size": 11, "color": "#f59e0b", "symbol": "diamond"},
        })
    if case.lat is not None and case.lon is not None:
        traces.append({
            "type": "scatter", "mode": "markers", "name": labels.get("case", "alert"),
            "x": [case.lon], "y": [case.lat], "hoverinfo": "skip",
            "marker": {"size": 16, "color": "#f43f5e", "line": {"color": "#fff", "width": 2}},
        })
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", "showlegend": bool(nearby),
            "legend": {"font": {"color": "#e8eef9"}, "x": 0, "y": 1, "bgcolor": "rgba(7,13,25,0.6)"},
            "xaxis": {"visible": False}, "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": 1.2},
            "dragmode": "pan", "uirevision": case.id,
        },
    }
