"""The append-only audit log of cases: who did what, in which role and grid, when, from which status to which.

Rows are only ever inserted (the database refuses updates and deletes, see migration 0002), so a case's
history traces responsibility back along found -> reported -> solved.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.models import CaseEventRow
from alerts.workflow import Actor

_EVENTS = cast(sa.Table, CaseEventRow.__table__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    case_id: str
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    role: str
    actor_grid: str | None
    note: str | None
    data: dict[str, Any]


def record(
    conn: Connection,
    case_id: str,
    action: str,
    actor: Actor,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Append one row; call it in the transaction that makes the change it describes."""
    conn.execute(
        sa.insert(_EVENTS).values(
            case_id=case_id, at=at, action=str(action), from_status=from_status, to_status=to_status,
            actor=actor.name, role=str(actor.role), actor_grid=actor.grid_code, note=note,
            data=json.dumps(dict(data), ensure_ascii=False, default=str) if data else None,
        )
    )


def record_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append several rows at once (each a dict of the case_events columns, ``data`` already JSON or None)."""
    if rows:
        conn.execute(sa.insert(_EVENTS), rows)


def history(conn: Connection, case_id: str) -> list[AuditEntry]:
    """A case's rows in the order they were appended."""
    query = sa.select(_EVENTS).where(_EVENTS.c.case_id == case_id).order_by(_EVENTS.c.id)
    return [
        AuditEntry(
            id=int(r.id), case_id=r.case_id, at=r.at, action=r.action, from_status=r.from_status,
            to_status=r.to_status, actor=r.actor, role=r.role, actor_grid=r.actor_grid, note=r.note,
            data=json.loads(r.data) if r.data else {},
        )
        for r in conn.execute(query)
    ]
