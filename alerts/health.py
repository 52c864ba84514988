"""The health a long-running part of the alerts side reports (relay, consumer), as plain values for the API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PartHealth:
    """``ok`` is False while the part cannot do its work (Redis or the database unreachable, or not running).

    ``backlog`` is what waits for it (outbox rows not yet published; stream entries not yet read by the group),
    None where it could not be measured.
    """

    name: str
    running: bool
    ok: bool
    detail: str
    last_success_at: datetime | None
    backlog: int | None
    errors: int
