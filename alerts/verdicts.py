"""Operators' verdicts with their evidence: every confirm and false-alarm reject of a camera alert is kept with
what the pipeline saw (crop, box, keypoints, nearby detections, the rule's features), for the verdict filter.

A verdict is written by ``alerts.casework`` in the transaction of the verify or reject itself, so a decision
and its record never disagree. Its reason comes from a short list per category (``reasons``).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts.models import AlertEvidenceRow, AlertRow, SightingRow, VerdictRow
from alerts.workflow import Actor, WorkflowError

_VERDICTS = cast(sa.Table, VerdictRow.__table__)
_SIGHTINGS = cast(sa.Table, SightingRow.__table__)
_ALERTS = cast(sa.Table, AlertRow.__table__)
_EVIDENCE = cast(sa.Table, AlertEvidenceRow.__table__)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


CONFIRMED = Reason("confirmed", "属实", "confirmed")
OTHER = Reason("other", "其他", "other")
NOT_PERSON = Reason("not_person", "非人", "not a person")
# Why an operator rejects an alert of a category: the kinds of false alarm worth telling apart.
_REJECT_REASONS: dict[str, tuple[Reason, ...]] = {
    "0502": (Reason("bench_rest", "长椅休息", "resting on a bench"), Reason("leisure", "休闲野餐", "leisure, picnic"),
             Reason("worker", "作业人员", "worker on duty"), NOT_PERSON, OTHER),
    "0501": (Reason("licensed", "持证摊点", "licensed stall"), Reason("passers_by", "路人顾客", "passers-by"),
             Reason("not_stall", "非摊点物品", "not a stall's goods"), OTHER),
    "0503": (Reason("licensed", "持证摊点", "licensed stall"), NOT_PERSON, OTHER),
}
_DEFAULT_REJECT = (NOT_PERSON, OTHER)


def reasons(category: str, real: bool) -> tuple[Reason, ...]:
    """The reasons an operator picks from for a verdict of ``category`` (confirm: one; reject: a short list)."""
    return (CONFIRMED,) if real else _REJECT_REASONS.get(category, _DEFAULT_REJECT)


def check_reason(category: str, real: bool, code: str | None) -> str:
    """The reason code to store (``code``, or the list's default); WorkflowError naming the list when unknown."""
    allowed = reasons(category, real)
    if code is None or not code.strip():
        return allowed[0].code if real else OTHER.code
    if code not in {r.code for r in allowed}:
        raise WorkflowError(f"reason {code!r} is not one for category {category}: "
                            f"{', '.join(r.code for r in allowed)}")
    return code


def record(conn: Connection, case: Any, real: bool, reason: str, actor: Actor, now: datetime) -> int | None:
    """Store a verdict on ``case`` (a cases row) with the evidence of its latest camera alert; None when no
    camera saw it (a person's report: nothing of the pipeline to learn from)."""
    latest = conn.execute(
        sa.select(_ALERTS, _EVIDENCE.c.crop_path, _EVIDENCE.c.features, _EVIDENCE.c.keypoints,
                  _EVIDENCE.c.nearby, _EVIDENCE.c.likely_real)
        .select_from(_SIGHTINGS.join(_ALERTS, _ALERTS.c.id == _SIGHTINGS.c.alert_id)
                     .outerjoin(_EVIDENCE, _EVIDENCE.c.alert_id == _ALERTS.c.id))
        .where(_SIGHTINGS.c.case_id == case.id, _SIGHTINGS.c.kind != "clear")
        .order_by(_SIGHTINGS.c.seen_at.desc(), _SIGHTINGS.c.id.desc()).limit(1)
    ).first()
    if latest is None:
        return None
    return int(conn.execute(sa.insert(_VERDICTS).values(
        case_id=case.id, alert_id=latest.id, category=case.category, real=real, reason=reason, at=now,
        actor=actor.name, role=str(actor.role), camera_id=latest.camera_id, lat=latest.lat, lon=latest.lon,
        snapshot_path=latest.snapshot_path, crop_path=latest.crop_path, bbox_x1=latest.bbox_x1,
        bbox_y1=latest.bbox_y1, bbox_x2=latest.bbox_x2, bbox_y2=latest.bbox_y2,
        features=latest.features or "{}", keypoints=latest.keypoints or "[]", nearby=latest.nearby or "[]",
        # The alert's own score; for an alert stored without evidence, its case's (the surest sighting's).
        likely_real=latest.likely_real if latest.likely_real is not None else case.likely_real,
    ).returning(_VERDICTS.c.id)).scalar_one())


@dataclass(frozen=True, slots=True)
class Verdict:
    id: int
    case_id: str
    alert_id: str | None
    category: str
    real: bool
    reason: str
    at: datetime
    actor: str
    camera_id: str | None
    lat: float | None
    lon: float | None
    snapshot_path: str | None
    crop_path: str | None
    bbox: tuple[float, float, float, float] | None
    features: dict[str, float]
    keypoints: list[list[float]]
    nearby: list[dict[str, Any]]
    likely_real: float | None


def _verdict(r: Any) -> Verdict:
    box = None if r.bbox_x1 is None else (r.bbox_x1, r.bbox_y1, r.bbox_x2, r.bbox_y2)
    return Verdict(int(r.id), r.case_id, r.alert_id, r.category, bool(r.real), r.reason, r.at, r.actor,
                   r.camera_id, r.lat, r.lon, r.snapshot_path, r.crop_path, box, json.loads(r.features),
                   json.loads(r.keypoints), json.loads(r.nearby), r.likely_real)


def load(engine: Engine, category: str | None = None, since: datetime | None = None,
         limit: int | None = None) -> list[Verdict]:
    """Verdicts oldest first (the newest ``limit`` of them when given)."""
    query = sa.select(_VERDICTS).order_by(_VERDICTS.c.at.desc(), _VERDICTS.c.id.desc())
    if category is not None:
        query = query.where(_VERDICTS.c.category == category)
    if since is not None:
        query = query.where(_VERDICTS.c.at >= since)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [_verdict(r) for r in reversed(list(conn.execute(query)))]


def categories(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.select(_VERDICTS.c.category).distinct()))


def of_case(engine: Engine, case_id: str) -> list[Verdict]:
    with engine.connect() as conn:
        return [_verdict(r) for r in conn.execute(
            sa.select(_VERDICTS).where(_VERDICTS.c.case_id == case_id).order_by(_VERDICTS.c.id))]


def insert_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk rows (benchmarks and imports of past decisions), in the table's own column names."""
    if rows:
        conn.execute(sa.insert(_VERDICTS), list(rows))
