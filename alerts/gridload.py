"""Open and overdue cases per grid, at every level of the map (what the wall's grid map colours), grouped in the
database (a city has thousands of open cases; the wall needs a few hundred numbers)."""
from __future__ import annotations

from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.casebook import overdue_clause
from alerts.models import CaseRow

_CASES = cast(sa.Table, CaseRow.__table__)
# A case is counted in its grid, its community and its office: each level has its own indexed column.
_LEVEL_COLUMNS = ("office_code", "community_code", "grid_code")


def open_case_counts(engine: Engine, now: datetime) -> dict[str, tuple[int, int]]:
    """{grid code (any level): (open cases, of which overdue at ``now``)} for every grid with open cases."""
    counts: dict[str, tuple[int, int]] = {}
    overdue = sa.func.coalesce(sa.func.sum(sa.case((overdue_clause(now), 1), else_=0)), 0)
    with engine.connect() as conn:
        for name in _LEVEL_COLUMNS:
            column = _CASES.c[name]
            query = (
                sa.select(column.label("code"), sa.func.count().label("open"), overdue.label("overdue"))
                .where(_CASES.c.is_open == sa.true(), column.is_not(None))
                .group_by(column)
            )
            for row in conn.execute(query):
                counts[str(row.code)] = (int(row.open), int(row.overdue))
    return counts
