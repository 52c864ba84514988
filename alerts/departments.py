"""Functional departments a case can be dispatched to (民政, 城管, 市场监管 ... seeded by migration 0002)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.models import DepartmentRow

_DEPARTMENTS = cast(sa.Table, DepartmentRow.__table__)
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class DepartmentError(ValueError):
    """An unknown department, or one that cannot be added as given."""


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    name_en: str | None


def list_departments(engine: Engine) -> list[Department]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_DEPARTMENTS).order_by(_DEPARTMENTS.c.code))
        return [Department(r.code, r.name, r.name_en) for r in rows]


def add_department(engine: Engine, code: str, name: str, name_en: str | None = None) -> Department:
    """Add or rename a department (admins do this when a new dispatch target is needed)."""
    if not _CODE.match(code):
        raise DepartmentError(f"department code must be lowercase letters, digits and _ (1..32), got {code!r}")
    if not name.strip() or len(name) > 100:
        raise DepartmentError(f"department name must be 1..100 characters, got {name!r}")
    with engine.begin() as conn:
        exists = conn.execute(sa.select(_DEPARTMENTS.c.code).where(_DEPARTMENTS.c.code == code)).first()
        if exists:
            conn.execute(sa.update(_DEPARTMENTS).where(_DEPARTMENTS.c.code == code).values(name=name, name_en=name_en))
        else:
            conn.execute(sa.insert(_DEPARTMENTS).values(code=code, name=name, name_en=name_en))
    return Department(code, name, name_en)
