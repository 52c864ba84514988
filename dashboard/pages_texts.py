"""Words of the desk, replay, staff and admin pages that name workflow values: statuses, actions, roles."""
from __future__ import annotations

from datetime import datetime

from alerts.workflow import Action, Role, Status
from gridwatch import timefmt
from gridwatch.i18n import N_, Translator

STATUS_LABELS: dict[str, str] = {
    Status.REPORTED: N_("Reported"),
    Status.VERIFIED: N_("Verified"),
    Status.REJECTED: N_("Rejected"),
    Status.REGISTERED: N_("Registered"),
    Status.DISPATCHED: N_("Dispatched"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.HANDLED: N_("Handled"),
    Status.CHECKED: N_("Checked"),
    Status.CLOSED: N_("Closed"),
    Status.REWORK: N_("Rework"),
    Status.ESCALATED: N_("Escalated"),
    Status.DEFERRED: N_("Deferred"),
    Status.INVALID: N_("Invalid"),
}

ACTION_LABELS: dict[str, str] = {
    Action.VERIFY: N_("Verify"),
    Action.REJECT: N_("Reject"),
    Action.REGISTER: N_("Register"),
    Action.DISPATCH: N_("Dispatch"),
    Action.START: N_("Accept"),
    Action.HANDLE: N_("Report handled"),
    Action.CHECK: N_("Check"),
    Action.CLOSE: N_("Close"),
    Action.REWORK: N_("Send back for rework"),
    Action.ESCALATE: N_("Escalate"),
    Action.DEFER: N_("Defer"),
    Action.RESUME: N_("Resume"),
    Action.INVALIDATE: N_("Invalidate"),
    "report": N_("Reported"),
    "merge": N_("Merged"),
    "split": N_("Split"),
    "query": N_("Query filed"),
    "answer": N_("Query answered"),
    "possibly_resolved": N_("Possibly resolved"),
}

ROLE_LABELS: dict[str, str] = {
    Role.OPERATOR: N_("Operator"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.GRID_STAFF: N_("Grid staff"),
    Role.DEPARTMENT: N_("Department"),
    Role.ADMIN: N_("Administrator"),
    Role.SYSTEM: N_("GridWatch"),
}


def status_label(status: str, t: Translator) -> str:
    label = STATUS_LABELS.get(status)
    return t.gettext(label) if label else status


def action_label(action: str, t: Translator) -> str:
    label = ACTION_LABELS.get(action)
    return t.gettext(label) if label else action


def role_label(role: str, t: Translator) -> str:
    label = ROLE_LABELS.get(role)
    return t.gettext(label) if label else role


def when(at: datetime | None, tz: str) -> str:
    """``2026-11-25 08:03:07`` in the city's zone; empty for no time."""
    if at is None:
        return ""
    return f"{timefmt.to_local(at, tz):%Y-%m-%d %H:%M:%S}"
