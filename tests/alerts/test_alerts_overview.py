"""The wall's overview queries (alerts.overview) and the sighting lookup the media scope uses (alerts.sightings)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import overview
from alerts.casebook import CaseBook, CaseFilter
from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.sightings import case_of_alert
from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch.types import Alert

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _alert(n: int, at: datetime) -> Alert:
    return Alert(id=f"o{n:031d}", camera_id="car-1", category="0503", confidence=0.9, detected_at=at,
                 lat=34.7725, lon=113.6720, grid_code=None, snapshot_url=None, bbox=(1.0, 2.0, 3.0, 4.0), track_id=n)


def _stored(repo: Repository, router: GridRouter) -> tuple[Alert, str]:
    alert = _alert(1, AT)
    assert repo.add_alert(alert, "ev-1", None)
    with repo.engine.begin() as conn:
        [done] = CaseService(repo.engine, router).ingest_alerts(conn, [alert])
    return alert, done.case_id


def test_case_of_alert_is_the_case_it_is_a_sighting_of(repo: Repository, demo_features: list[GridFeature]) -> None:
    repo.replace_grids(demo_features)
    alert, case_id = _stored(repo, GridRouter(demo_features))
    assert case_of_alert(repo.engine, alert.id) == case_id
    assert case_of_alert(repo.engine, "no-such-alert") is None


def test_overview_answers_as_the_books_it_reads(repo: Repository, demo_features: list[GridFeature]) -> None:
    repo.replace_grids(demo_features)
    router = GridRouter(demo_features)
    _alert_1, case_id = _stored(repo, router)
    now = AT + timedelta(minutes=5)
    book = CaseBook(repo.engine, router)
    queue = overview.open_queue(book, None, now, 40)
    assert [c.id for c in queue] == [case_id] == [c.id for c in book.queue(
        CaseFilter(open_only=True, limit=40, newest_seen_first=True, lane="wall"), now=now)]
    counts = overview.open_case_counts(repo, now)
    assert counts[queue[0].grid_code] == (1, 0)
