"""Lookups of sightings by what the rest of the centre knows them by (an alert's id on a snapshot or clip)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.models import SightingRow


def case_of_alert(engine: Engine, alert_id: str) -> str | None:
    """The id of the case ``alert_id`` is a sighting of; None while it is no case's (or no such alert)."""
    with engine.connect() as conn:
        case_id = conn.execute(sa.select(SightingRow.case_id).where(SightingRow.alert_id == alert_id)).scalar()
    return None if case_id is None else str(case_id)
