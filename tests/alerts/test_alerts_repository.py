"""The repository on SQLite and PostgreSQL: alerts newest first, stored once per event, UTC round trips, grid maps."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.repository import Repository, UnknownGridError
from geo.grids import GridError, GridFeature
from gridwatch.types import Alert

T0 = datetime(2026, 11, 24, 8, 30, 0, 123456, tzinfo=UTC)
GRID = "410105001001001"


def _alert(n: int, detected_at: datetime, grid_code: str | None = None) -> Alert:
    return Alert(
        id=f"{n:032x}", camera_id="car-1", category="0502", confidence=0.8123, detected_at=detected_at,
        lat=34.79, lon=113.665, grid_code=grid_code, snapshot_url=None, bbox=(10.5, 20.0, 110.0, 220.5), track_id=n,
    )


def test_alerts_list_newest_first_and_an_event_is_stored_once(repo: Repository) -> None:
    # Stored out of order: the wall must still show the newest detection on top.
    for n, minutes in [(1, 0), (2, 10), (3, 5)]:
        assert repo.add_alert(_alert(n, T0 + timedelta(minutes=minutes)), f"evt-{n}", f"snapshots/2026/11/24/{n}.jpg")
    assert repo.add_alert(_alert(9, T0 + timedelta(hours=1)), "evt-2", None) is False  # replayed event
    assert repo.count_alerts() == 3
    assert repo.count_alerts(since=T0 + timedelta(minutes=5)) == 2
    recent = repo.recent_alerts()
    assert [a.track_id for a in recent] == [2, 3, 1]
    assert [a.track_id for a in repo.recent_alerts(limit=2)] == [2, 3]
    assert recent[0].snapshot_url == "/media/snapshots/2026/11/24/2.jpg"
    assert repo.get_alert(f"{2:032x}") == recent[0]
    assert repo.get_alert("no-such-id") is None


def test_times_come_back_as_the_same_instant_in_utc(repo: Repository) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 24, 16, 30, 0, 654321, tzinfo=beijing)
    original = _alert(1, local)
    repo.add_alert(original, "evt-tz", None)
    [stored] = repo.recent_alerts()
    assert stored.detected_at == local
    assert stored.detected_at.utcoffset() == timedelta(0)
    assert stored.detected_at.isoformat() == "2026-11-24T08:30:00.654321+00:00"
    assert stored == dataclasses.replace(original, detected_at=local.astimezone(UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        repo.add_alert(_alert(2, datetime(2026, 11, 24, 8, 30)), "evt-naive", None)


def test_alert_in_a_grid_missing_from_the_map_is_refused_with_its_code(
    repo: Repository, demo_features: list[GridFeature]
) -> None:
    repo.replace_grids(demo_features)
    assert repo.add_alert(_alert(1, T0, GRID), "evt-1", None)
    with pytest.raises(UnknownGridError, match="410105999999999"):
        repo.add_alert(_alert(2, T0, "410105999999999"), "evt-2", None)
    with pytest.raises(ValueError, match="relative to the media folder"):
        repo.add_alert(_alert(3, T0), "evt-3", "/etc/passwd")
    assert repo.count_alerts() == 1


def test_grid_map_import_and_a_bad_replacement_leaves_the_old_map(
    repo: Repository, demo_features: list[GridFeature]
) -> None:
    assert repo.grid_count() == 0
    assert repo.replace_grids(demo_features) == 22
    assert repo.grid_count() == 22
    assert [len(repo.list_grids(level)) for level in (1, 2, 3)] == [2, 4, 16]
    assert {(g.code, g.name, g.parent, g.leader) for g in repo.list_grids()} == {
        (g.code, g.name, g.parent, g.leader) for g in demo_features
    }
    stored = {g.code: g for g in repo.list_grids()}
    assert stored[GRID].geometry == next(g for g in demo_features if g.code == GRID).geometry

    # A new map that renames every grid but has one feature with a parent that does not exist.
    renamed = [dataclasses.replace(g, name="改名" + g.name) for g in demo_features]
    orphan = dataclasses.replace(demo_features[-1], code="410105002002099", parent="410105002002777")
    with pytest.raises(GridError, match=r"feature #22 \(code '410105002002099'\): parent '410105002002777'"):
        repo.replace_grids([*renamed, orphan])
    assert repo.grid_count() == 22
    assert {(g.code, g.name) for g in repo.list_grids()} == {(g.code, g.name) for g in demo_features}


def test_reimport_keeps_alerts_of_kept_grids_and_unlinks_removed_ones(
    repo: Repository, demo_features: list[GridFeature]
) -> None:
    repo.replace_grids(demo_features)
    removed = "410105002002004"
    repo.add_alert(_alert(1, T0, GRID), "evt-kept", None)
    repo.add_alert(_alert(2, T0, removed), "evt-removed", None)
    renamed = [dataclasses.replace(g, name=g.name + "（新）") if g.code == GRID else g for g in demo_features]
    assert repo.replace_grids([g for g in renamed if g.code != removed]) == 21
    assert repo.grid_count() == 21
    assert {g.code: g.name for g in repo.list_grids(3)}[GRID].endswith("（新）")
    by_track = {a.track_id: a for a in repo.recent_alerts()}
    assert by_track[1].grid_code == GRID
    assert by_track[2].grid_code is None  # the alert itself is kept
