"""Cases for wall tests, made the way the product makes them: CaseService ingests a sighting, Casework acts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.cases import CaseService, Observation
from alerts.casework import Casework, Target
from alerts.db import write_transaction
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from geo.routing import GridRouter
from gridwatch.settings import Settings
from gridwatch.types import Alert

OPERATOR = Actor("wall-test-operator", Role.OPERATOR)
# Points inside grids of the demo map (alerts/data/demo_grids.geojson): lat, lon.
IN_GRID_1 = (34.796, 113.667)  # 410105001001001, office 410105001
IN_GRID_2 = (34.796, 113.683)  # 410105001001002, office 410105001
OTHER_OFFICE = (34.796, 113.700)  # office 410105002


def _router(repo: Repository, settings: Settings) -> GridRouter:
    return GridRouter(repo.list_grids(), settings.cases.fallback_grid)


def open_case(repo: Repository, settings: Settings, where: tuple[float, float], category: str = "0503",
              seen_at: datetime | None = None) -> str:
    """A reported (open) case at ``where``, reported at ``seen_at`` (now by default); its id."""
    service = CaseService(repo.engine, _router(repo, settings), settings.cases)
    done = service.ingest([Observation(category=category, seen_at=seen_at or datetime.now(UTC),
                                       lat=where[0], lon=where[1], source="web")])
    return done[0].case_id


def overdue_case(repo: Repository, settings: Settings, where: tuple[float, float], category: str = "0507") -> str:
    """A case reported and dispatched to its grid a month ago and never handled: overdue now."""
    then = datetime.now(UTC) - timedelta(days=30)
    case_id = open_case(repo, settings, where, category, seen_at=then)
    router = _router(repo, settings)
    work = Casework(repo.engine, router, settings=settings.cases)
    grid = router.route(*where).grid_code
    work.verify(case_id, OPERATOR, now=then + timedelta(minutes=1))
    work.register(case_id, OPERATOR, now=then + timedelta(minutes=2))
    work.dispatch(case_id, OPERATOR, Target(grid=grid), now=then + timedelta(minutes=3))
    return case_id


def ingest_alerts(repo: Repository, settings: Settings, *alerts: Alert) -> list[str]:
    """What the case consumer does with stored alerts: each joins the open case of its place or opens one; the
    case ids, in the alerts' order."""
    service = CaseService(repo.engine, _router(repo, settings), settings.cases)
    with write_transaction(repo.engine) as conn:
        done = {i.alert_id: i.case_id for i in service.ingest_alerts(conn, alerts)}
    return [done[a.id] for a in alerts]
