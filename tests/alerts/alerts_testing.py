"""Helpers shared by the alerts tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gridwatch.types import GpsFix, IssueEvent, Phase


def issue_event(
    n: int, lat: float | None = 34.7990, lon: float | None = 113.6610, category: str = "0502",
    camera_id: str = "car-1", seen: datetime | None = None,
) -> IssueEvent:
    """Event number ``n`` of a test: no picture (fast), at (lat, lon) when given."""
    at = seen or datetime(2026, 11, 24, 8, 30, tzinfo=UTC) + timedelta(seconds=n)
    return IssueEvent(
        event_id=f"{camera_id}:{n}:1", phase=Phase.NEW, camera_id=camera_id, category=category, track_id=n,
        first_seen=at - timedelta(seconds=3), last_seen=at, confidence=0.8,
        bbox=(10.0, 20.0, 110.0, 220.0),
        fix=GpsFix(lat=lat, lon=lon, time=at) if lat is not None and lon is not None else None,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
