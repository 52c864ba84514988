"""Who works in each grid besides its leader: the staff (网格员) a dispatch can name.

Only this module reads or writes ``grid_staff``. The map import replaces everyone's lists in one transaction;
an admin edits one grid's list. Removing a grid from the map removes its list (ON DELETE CASCADE).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.models import GridRow, GridStaffRow
from geo.grids import GridError, GridFeature, parse_staff

log = logging.getLogger(__name__)

_STAFF = cast(sa.Table, GridStaffRow.__table__)
_GRIDS = cast(sa.Table, GridRow.__table__)


class GridStaffStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace_all(self, features: Sequence[GridFeature]) -> int:
        """Every grid's staff as the map lists them (grids without a list get none); how many names were stored.
        Call after the grids themselves are stored."""
        rows = [{"grid_code": f.code, "position": n, "name": name}
                for f in features for n, name in enumerate(f.staff)]
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_STAFF))
            if rows:
                conn.execute(sa.insert(_STAFF), rows)
        return len(rows)

    def set_staff(self, grid_code: str, names: Sequence[str]) -> tuple[str, ...]:
        """One grid's staff, replaced (an admin's edit); GridError for an unknown grid or a bad name."""
        staff, problems = parse_staff(list(names))
        if problems:
            raise GridError(grid_code, problems)
        with self._engine.begin() as conn:
            if conn.execute(sa.select(_GRIDS.c.code).where(_GRIDS.c.code == grid_code)).first() is None:
                raise GridError(grid_code, ["not in the grid map"])
            conn.execute(sa.delete(_STAFF).where(_STAFF.c.grid_code == grid_code))
            if staff:
                conn.execute(sa.insert(_STAFF), [{"grid_code": grid_code, "position": n, "name": name}
                                                  for n, name in enumerate(staff)])
        log.info("staff of grid %s set: %d names", grid_code, len(staff))
        return staff

    def staff_of(self, grid_code: str) -> tuple[str, ...]:
        query = sa.select(_STAFF.c.name).where(_STAFF.c.grid_code == grid_code).order_by(_STAFF.c.position)
        with self._engine.connect() as conn:
            return tuple(r.name for r in conn.execute(query))

    def all(self) -> dict[str, tuple[str, ...]]:
        """Grid code -> staff names, for grids that have any."""
        query = sa.select(_STAFF).order_by(_STAFF.c.grid_code, _STAFF.c.position)
        out: dict[str, list[str]] = {}
        with self._engine.connect() as conn:
            for r in conn.execute(query):
                out.setdefault(r.grid_code, []).append(r.name)
        return {k: tuple(v) for k, v in out.items()}
