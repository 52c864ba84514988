"""Open cases near a point, any category, nearest first: the merge candidates the desk shows beside a case.

Read-only, one short transaction per call; everything returned is plain values ready for the pages.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.casebook import CaseView, case_view
from alerts.models import CaseRow, utc_now
from geo.distance import bounding_box, haversine_m

_CASES = cast(sa.Table, CaseRow.__table__)


@dataclass(frozen=True, slots=True)
class NearbyCase:
    case: CaseView
    distance_m: float


def nearby_open_cases(
    engine: Engine, lat: float, lon: float, radius_m: float, exclude: Sequence[str] = (), limit: int = 10,
    now: datetime | None = None,
) -> list[NearbyCase]:
    """Open cases within ``radius_m`` of a point, any category, nearest first (merge candidates)."""
    # The indexed bounding box narrows the rows in SQL; the exact distance is then measured here.
    lat0, lat1, lon0, lon1 = bounding_box(lat, lon, radius_m)
    query = sa.select(_CASES).where(
        _CASES.c.is_open == sa.true(), _CASES.c.lat.between(lat0, lat1), _CASES.c.lon.between(lon0, lon1),
    )
    if exclude:
        query = query.where(_CASES.c.id.not_in(list(exclude)))
    now = now or utc_now()
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    found = [(haversine_m(lat, lon, r.lat, r.lon), r) for r in rows]
    found = sorted(((d, r) for d, r in found if d <= radius_m), key=lambda dr: dr[0])
    return [NearbyCase(case_view(r, now), round(d, 1)) for d, r in found[:limit]]
