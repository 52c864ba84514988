"""The inbox: which messages a consumer group has processed, written in the same transaction as its effects.

That is what makes a consumer idempotent: a message delivered twice finds its inbox row and is skipped, and
a transaction that fails leaves neither the effects nor the row behind, so the message is processed again.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from alerts.models import InboxRow, utc_now

CASES_GROUP = "cases"  # the consumer group that turns alerts into cases
_INBOX = cast(sa.Table, InboxRow.__table__)
# ON CONFLICT DO NOTHING ... RETURNING lists only the rows that were new; built once, run as an executemany.
_CLAIM = {
    name: dialect.insert(_INBOX).on_conflict_do_nothing().returning(_INBOX.c.message_id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def claim(conn: Connection, group: str, message_ids: Collection[str]) -> set[str]:
    """Record ``message_ids`` as processed by ``group``; returns those that were not recorded before.

    Call it inside the transaction that does the work, and do the work only for the returned ids.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return set()
    now = utc_now()
    rows = [{"consumer_group": group, "message_id": m, "processed_at": now} for m in ids]
    stmt = _CLAIM.get(conn.dialect.name)
    if stmt is not None:
        return {str(r[0]) for r in conn.execute(stmt, rows)}
    seen = processed(conn, group, ids)
    fresh = [r for r in rows if r["message_id"] not in seen]
    if fresh:
        conn.execute(sa.insert(_INBOX), fresh)
    return {str(r["message_id"]) for r in fresh}


def processed(conn: Connection, group: str, message_ids: Collection[str]) -> set[str]:
    """Which of ``message_ids`` ``group`` has already processed."""
    ids = list(set(message_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 500):  # stay far below every driver's bound-parameter limit
        chunk = ids[start:start + 500]
        query = sa.select(_INBOX.c.message_id).where(
            _INBOX.c.consumer_group == group, _INBOX.c.message_id.in_(chunk)
        )
        found.update(r[0] for r in conn.execute(query))
    return found


def count(conn: Connection, group: str) -> int:
    query = sa.select(sa.func.count()).select_from(_INBOX).where(_INBOX.c.consumer_group == group)
    return int(conn.execute(query).scalar_one())
