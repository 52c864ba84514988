"""Helpers of the verdict tests: camera alerts with the rule's evidence, through the real sink, cases and casework."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from alerts.cases import CaseService, observation_from_alert
from alerts.casework import Casework
from alerts.sink import AlertSink
from alerts.workflow import Actor, RejectReason, Role
from gridwatch.types import Alert, Evidence, GpsFix, IssueEvent, NearbyDetection, Phase

OPERATOR = Actor("王敏", Role.OPERATOR)
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
KEYPOINTS = tuple((100.0 + i, 200.0 + 2 * i, 0.9) for i in range(17))


def evidence(seats_near: float, noise: float = 0.0) -> Evidence:
    """The vagrant rule's evidence of a sitter; ``seats_near`` = benches around (what tells resting from vagrancy)."""
    return Evidence(
        features=(("confidence", 0.7 + noise), ("aspect", 1.3 - noise), ("seats_near", seats_near),
                  ("posture_sitting", 0.8)),
        keypoints=KEYPOINTS,
        nearby=(NearbyDetection("bench", 0.81, (60.0, 300.0, 400.0, 420.0)),) if seats_near else (),
    )


def event(n: int, seen: Evidence | None, *, picture: bool = False, category: str = "0502") -> IssueEvent:
    """Event ``n`` at its own place (37 m from the next, beyond cases.dedup_distance_m): its own case."""
    at = START + timedelta(minutes=n)
    lat, lon = 34.7990 + 0.00035 * (n % 40), 113.6610 + 0.0004 * (n // 40)
    image = np.full((480, 640, 3), 90, dtype=np.uint8) if picture else None
    return IssueEvent(
        event_id=f"car-1:{n}:1", phase=Phase.NEW, camera_id="car-1", category=category, track_id=n,
        first_seen=at - timedelta(seconds=3), last_seen=at, confidence=0.8, bbox=(100.0, 150.0, 260.0, 400.0),
        fix=GpsFix(lat=lat, lon=lon, time=at), snapshot=image, evidence=seen,
    )


def case_of(sink: AlertSink, service: CaseService, e: IssueEvent) -> tuple[Alert, str]:
    """The event stored by the sink and taken into a case, as the case consumer does."""
    alert = sink.record(e)
    assert alert is not None
    [ingested] = service.ingest([observation_from_alert(alert)])
    return alert, ingested.case_id


def verdicts_where_benches_mean_false(sink: AlertSink, service: CaseService, work: Casework, n: int,
                                      offset: int = 0) -> None:
    """``n`` verdicts: sitters with a bench around were rejected (resting), those without confirmed."""
    for i in range(n):
        real = i % 2 == 0
        _alert, case_id = case_of(sink, service, event(offset + i, evidence(0.0 if real else 2.0, (i % 7) / 50)))
        if real:
            work.verify(case_id, OPERATOR)
        else:
            work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="bench_rest")
