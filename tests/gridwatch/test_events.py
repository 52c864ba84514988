from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridwatch.events import (
    alert_from_stream,
    alert_to_stream,
    camera_state_from_hash,
    camera_state_to_hash,
)
from gridwatch.types import Alert, CameraState, CameraStatus, Detections


def test_alert_round_trips_through_a_real_stream(redis_client) -> None:  # type: ignore[no-untyped-def]
    alert = Alert(
        id="a1", camera_id="car-1", category="0502", confidence=0.83,
        detected_at=datetime(2026, 11, 24, 8, 30, tzinfo=UTC), lat=34.78, lon=113.68,
        grid_code="410105001001001", snapshot_url="/media/snapshots/a1.jpg", bbox=(1, 2, 3, 4), track_id=7,
    )
    redis_client.xadd("gw:test", alert_to_stream(alert))
    [(_, fields)] = redis_client.xrange("gw:test")
    assert alert_from_stream(fields) == alert


def test_camera_state_round_trips() -> None:
    s = CameraState("car-1", "Car 1", CameraStatus.STALLED, 4.5, 100, 3, datetime(2026, 1, 1, tzinfo=UTC), "no frame")
    assert camera_state_from_hash(camera_state_to_hash(s)) == s


def test_detections_from_plain_lists() -> None:
    d = Detections.from_lists([[0, 0, 10, 20], [5, 5, 8, 8]], [0.9, 0.4], ["person", "bus"], track_id=[3, 4])
    assert len(d) == 2
    person = d[[n == "person" for n in d.class_name]]
    assert person.class_name == ("person",) and person.track_id.tolist() == [3]
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError):
        Detections.from_lists([[0, 0, 1, 1]], [0.5, 0.6], ["a", "b"])
