"""One tracked street issue from its first confirmation to its end: phases new / update / end, best snapshot.

Pure helpers shared by the rules: a rule decides *when* something is an issue; this module keeps what every
issue needs — first/last seen, the best snapshot (the largest, most confident view), and which event is due.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridwatch.settings import RulesSettings
from gridwatch.types import Evidence, GpsFix, IssueEvent, Phase
from vision.zones import distance_m

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """The frame that shows an issue best, and where in it."""

    score: float
    confidence: float
    bbox: Box
    image: npt.NDArray[np.uint8]
    fix: GpsFix | None
    at: datetime
    evidence: Evidence | None = None  # what the rule saw in this view (vision.evidence)


def snapshot(confidence: float, bbox: Box, image: npt.NDArray[np.uint8], fix: GpsFix | None,
             at: datetime, evidence: Evidence | None = None) -> Snapshot:
    # Area times confidence: a big, sure view beats a tiny sure one and a big doubtful one.
    area = max(0.0, bbox[2] - bbox[0]) * max(0.0, bbox[3] - bbox[1])
    return Snapshot(area * confidence, confidence, bbox, image, fix, at, evidence)


def better(current: Snapshot | None, candidate: Snapshot) -> Snapshot:
    return candidate if current is None or candidate.score > current.score else current


@dataclass(frozen=True, slots=True, eq=False)
class Issue:
    """An open issue of one camera."""

    event_id: str
    camera_id: str
    category: str
    track_id: int
    first_seen: datetime
    last_seen: datetime
    best: Snapshot
    place: GpsFix | None  # where it was confirmed: sightings near it belong to it (patrol cars)
    region: Box  # latest box: a re-identified track overlapping it belongs to it (fixed cameras)
    emitted_at: datetime
    improved: bool = False  # best snapshot changed since the last event

    def event(self, phase: Phase) -> IssueEvent:
        return IssueEvent(
            event_id=self.event_id,
            phase=phase,
            camera_id=self.camera_id,
            category=self.category,
            track_id=self.track_id,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            confidence=self.best.confidence,
            bbox=self.best.bbox,
            fix=self.best.fix if self.best.fix is not None else self.place,
            snapshot=self.best.image,
            snapshot_at=self.best.at,
            evidence=self.best.evidence,
        )


def open_issue(camera_id: str, category: str, track_id: int, first_seen: datetime, now: datetime,
               best: Snapshot, region: Box, place: GpsFix | None) -> tuple[Issue, IssueEvent]:
    """A new issue and its NEW event."""
    issue = Issue(
        event_id=uuid.uuid4().hex, camera_id=camera_id, category=category, track_id=track_id,
        first_seen=first_seen, last_seen=now, best=best, place=place, region=region, emitted_at=now,
    )
    return issue, issue.event(Phase.NEW)


def observe(issue: Issue, now: datetime, region: Box, view: Snapshot | None) -> Issue:
    """The issue seen again (``view`` = a candidate snapshot, None when this sighting should not be one)."""
    best = issue.best if view is None else better(issue.best, view)
    return replace(issue, last_seen=max(issue.last_seen, now), region=region, best=best,
                   improved=issue.improved or best is not issue.best)


def step_issues(
    issues: Mapping[str, Issue], now: datetime, rules: RulesSettings
) -> tuple[dict[str, Issue], list[IssueEvent]]:
    """END for issues unseen for ``end_after_seconds``; UPDATE (rate-limited) for those with a better snapshot."""
    end_after = timedelta(seconds=rules.end_after_seconds)
    every = timedelta(seconds=rules.update_every_seconds)
    out: dict[str, Issue] = {}
    events: list[IssueEvent] = []
    for key, issue in issues.items():
        if now - issue.last_seen >= end_after:
            events.append(issue.event(Phase.END))
            continue
        if issue.improved and now - issue.emitted_at >= every:
            issue = replace(issue, emitted_at=now, improved=False)
            events.append(issue.event(Phase.UPDATE))
        out[key] = issue
    return out, events


def end_all(issues: Mapping[str, Issue]) -> list[IssueEvent]:
    """END events for every open issue (the stream or file ended, the worker stops)."""
    return [issue.event(Phase.END) for issue in issues.values()]


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# A re-found track (new id after an occlusion) overlapping an open issue's latest box this much is that issue.
SAME_REGION_IOU = 0.3
# ... if the issue was seen this recently (a moving camera's boxes drift away from old positions).
SAME_REGION_WITHIN = timedelta(seconds=3)


def match_issue(
    issues: Mapping[str, Issue], category: str, bbox: Box, fix: GpsFix | None, now: datetime, radius_m: float
) -> Issue | None:
    """The open issue of ``category`` that this sighting belongs to: the same place (GPS) or the same spot."""
    for issue in issues.values():
        if issue.category != category:
            continue
        if fix is not None and issue.place is not None and distance_m(fix, issue.place) <= radius_m:
            return issue
        if now - issue.last_seen <= SAME_REGION_WITHIN and box_iou(issue.region, bbox) >= SAME_REGION_IOU:
            return issue
    return None
