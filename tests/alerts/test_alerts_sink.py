"""AlertSink: an issue event becomes a snapshot on disk, a row in the database and one entry on the Redis stream."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis

from alerts.repository import Repository
from alerts.sink import AlertSink
from geo.grids import GridFeature, GridIndex
from gridwatch import keys
from gridwatch.events import alert_from_stream
from gridwatch.redis_server import EmbeddedRedis, free_port
from gridwatch.types import GpsFix, IssueEvent, Phase

SEEN = datetime(2026, 11, 24, 8, 30, 5, 250000, tzinfo=UTC)
NW_GRID = "410105001001001"


def _event(event_id: str = "car-1:7:1", with_snapshot: bool = True, with_fix: bool = True) -> IssueEvent:
    frame = np.full((1080, 1920, 3), 128, dtype=np.uint8)  # a 1080p frame, as the demo camera sends
    return IssueEvent(
        event_id=event_id, phase=Phase.NEW, camera_id="car-1", category="0502", track_id=7,
        first_seen=SEEN - timedelta(seconds=3), last_seen=SEEN, confidence=0.876543,
        bbox=(600.0, 300.0, 900.0, 900.0),
        fix=GpsFix(lat=34.7990, lon=113.6610, time=SEEN) if with_fix else None,
        snapshot=frame if with_snapshot else None,
    )


@pytest.fixture()
def sink(repo: Repository, redis_client: redis.Redis, tmp_path: Path, demo_features: list[GridFeature]) -> AlertSink:
    repo.replace_grids(demo_features)
    return AlertSink(repo, redis_client, tmp_path / "media", GridIndex(repo.list_grids()))


def test_an_event_is_stored_with_snapshot_grid_and_stream_entry(
    sink: AlertSink, repo: Repository, redis_client: redis.Redis, tmp_path: Path
) -> None:
    alert = sink.record(_event())
    assert alert is not None
    assert alert.grid_code == NW_GRID
    assert alert.detected_at == SEEN and alert.camera_id == "car-1" and alert.track_id == 7
    assert (alert.lat, alert.lon) == (34.7990, 113.6610)

    # The snapshot: a real JPEG under the day's folder, at most 1280 wide, with the issue outlined.
    assert alert.snapshot_url == f"/media/snapshots/2026/11/24/{alert.id}.jpg"
    jpeg = tmp_path / "media" / "snapshots" / "2026" / "11" / "24" / f"{alert.id}.jpg"
    image = cv2.imread(str(jpeg))
    assert image is not None and image.shape == (720, 1280, 3)
    x1, y1, x2, y2 = alert.bbox  # in the snapshot's pixels: the 1080p box scaled by 2/3
    assert alert.bbox == pytest.approx((400.0, 200.0, 600.0, 600.0), abs=0.1)
    b, g, r = (int(v) for v in image[round((y1 + y2) / 2), round(x1)])
    assert r > 180 and g < 90 and b < 90, "the box edge should be drawn in red"
    assert abs(int(image[round((y1 + y2) / 2), round((x1 + x2) / 2)][1]) - 128) < 10, "the box is not filled"

    # The database and the stream tell the same story.
    assert repo.recent_alerts() == [alert]
    entries = redis_client.xrange(keys.ALERTS_STREAM)
    assert entries is not None and len(entries) == 1
    fields = entries[0][1]
    assert fields is not None
    assert alert_from_stream(fields) == alert  # type: ignore[arg-type]  # redis-py types the fields loosely


def test_the_same_event_twice_gives_one_alert_one_snapshot_one_stream_entry(
    sink: AlertSink, repo: Repository, redis_client: redis.Redis, tmp_path: Path
) -> None:
    first = sink.record(_event("car-1:7:1"))
    again = sink.record(_event("car-1:7:1"))
    assert first is not None and again is None
    assert repo.count_alerts() == 1
    assert redis_client.xlen(keys.ALERTS_STREAM) == 1
    assert len(list((tmp_path / "media").rglob("*.jpg"))) == 1


def test_an_event_without_picture_or_position_is_still_an_alert(sink: AlertSink, repo: Repository) -> None:
    alert = sink.record(_event("car-1:8:1", with_snapshot=False, with_fix=False))
    assert alert is not None
    assert alert.snapshot_url is None and alert.grid_code is None and alert.lat is None
    assert alert.bbox == (600.0, 300.0, 900.0, 900.0)
    assert repo.get_alert(alert.id) == alert


def test_alert_waits_in_the_outbox_while_redis_is_down_and_is_published_when_it_returns(
    repo: Repository, tmp_path: Path
) -> None:
    port = free_port()
    sink = AlertSink(repo, f"redis://127.0.0.1:{port}/0", tmp_path / "media", grids=None)
    alert = sink.record(_event("car-1:9:1"))
    assert alert is not None
    assert repo.get_alert(alert.id) == alert  # stored although nothing listens on the port
    assert sink.relay.pending_count() == 1
    assert not sink.health().ok and "cannot publish" in sink.health().detail

    with EmbeddedRedis(port=port) as server:
        client = redis.Redis.from_url(server.url)
        assert sink.relay.flush() == 1
        entries: list[Any] = client.xrange(keys.ALERTS_STREAM)  # type: ignore[assignment]
        assert [alert_from_stream(f) for _, f in entries] == [alert]
        assert sink.relay.pending_count() == 0 and sink.health().ok
        assert sink.relay.flush() == 0  # sent once, not again
        client.close()
    sink.stop()


def test_snapshot_carries_a_chinese_label_over_the_box() -> None:
    from alerts.sink import render_snapshot

    frame = np.full((720, 1280, 3), 90, dtype=np.uint8)
    plain, _ = render_snapshot(frame, (400.0, 300.0, 600.0, 600.0))
    labelled, _ = render_snapshot(frame, (400.0, 300.0, 600.0, 600.0), label="流浪乞讨 87%")
    a = cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_COLOR).astype(int)
    b = cv2.imdecode(np.frombuffer(labelled, np.uint8), cv2.IMREAD_COLOR).astype(int)
    above_box = np.abs(a[260:300, 400:600] - b[260:300, 400:600]).sum()
    assert above_box > 0, "the label sits just above the box"
