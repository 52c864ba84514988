"""The closed loop of digital urban management as one transition table (pure: no database, no clock).

    reported --verify--> verified --register--> registered --dispatch--> dispatched --start--> in_progress
    reported --reject (false_alarm | duplicate)--> rejected
    in_progress --handle (note + photo)--> handled --check--> checked --close--> closed
    any case not yet handled --seen_clear (a camera's pass found nothing there)--> handled
    handled --close (only once seen clear: the operator saw the clear picture)--> closed
    checked --rework (note)--> rework --dispatch--> dispatched
    in_progress --escalate (note)--> escalated      (to the parent grid, which then starts or dispatches it)
    escalated --start--> in_progress ; escalated --dispatch--> dispatched
    any open status --defer (note)--> deferred --resume--> registered
    any open status --invalidate (note)--> invalid

closed, rejected and invalid are terminal. Every applied transition is one row of the audit log
(alerts.audit); this module only answers whether it is allowed and what it leads to.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    REPORTED = "reported"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    HANDLED = "handled"
    CHECKED = "checked"
    CLOSED = "closed"
    REWORK = "rework"
    ESCALATED = "escalated"
    DEFERRED = "deferred"
    INVALID = "invalid"


class Action(StrEnum):
    VERIFY = "verify"
    REJECT = "reject"
    REGISTER = "register"
    DISPATCH = "dispatch"
    START = "start"
    HANDLE = "handle"
    CHECK = "check"
    CLOSE = "close"
    REWORK = "rework"
    ESCALATE = "escalate"
    DEFER = "defer"
    RESUME = "resume"
    INVALIDATE = "invalidate"
    SEEN_CLEAR = "seen_clear"


class Role(StrEnum):
    OPERATOR = "operator"  # command-centre operator: verifies, registers, dispatches, checks
    SUPERVISOR = "supervisor"  # shift leader: everything an operator does, plus close, defer, invalidate
    GRID_STAFF = "grid_staff"  # a grid's leader or staff: handles and escalates its cases
    DEPARTMENT = "department"  # a functional department: handles what it was dispatched
    ADMIN = "admin"
    SYSTEM = "system"  # GridWatch itself: cameras reporting, automatic merges


class RejectReason(StrEnum):
    FALSE_ALARM = "false_alarm"
    DUPLICATE = "duplicate"


class Detail(StrEnum):
    """What a transition needs besides the actor."""

    NOTE = "note"
    REASON = "reason"
    TARGET = "target"  # a grid or a department
    PHOTO = "photo"
    SEEN_CLEAR = "seen_clear"  # the case's latest pass saw its place clear (casework supplies it from the case)


TERMINAL: frozenset[Status] = frozenset({Status.CLOSED, Status.REJECTED, Status.INVALID})
OPEN: frozenset[Status] = frozenset(Status) - TERMINAL
NOT_YET_HANDLED: frozenset[Status] = frozenset(
    {Status.DISPATCHED, Status.IN_PROGRESS, Status.REWORK, Status.ESCALATED}
)
"""Statuses in which a deadline runs: someone has the case and has not handled it yet."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person's name (or a camera id), their role, and the grid they act for (None: the centre)."""

    name: str
    role: Role
    grid_code: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    source: Status
    target: Status
    roles: frozenset[Role]
    requires: frozenset[Detail] = frozenset()


class WorkflowError(ValueError):
    """A transition that is refused; the message says what was asked and why not."""


class IllegalTransitionError(WorkflowError):
    pass


class RoleNotAllowedError(WorkflowError):
    pass


class MissingDetailError(WorkflowError):
    pass


_CENTRE = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
_SUPERVISION = frozenset({Role.SUPERVISOR, Role.ADMIN})
_HANDLERS = frozenset({Role.GRID_STAFF, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN})
_ESCALATORS = frozenset({Role.GRID_STAFF, Role.SUPERVISOR, Role.ADMIN})
_NOTE = frozenset({Detail.NOTE})
_CAMERAS = frozenset({Role.SYSTEM})


def _table() -> tuple[Transition, ...]:
    t = Transition
    rows = [
        t(Action.VERIFY, Status.REPORTED, Status.VERIFIED, _CENTRE),
        t(Action.REJECT, Status.REPORTED, Status.REJECTED, _CENTRE, frozenset({Detail.REASON})),
        t(Action.REGISTER, Status.VERIFIED, Status.REGISTERED, _CENTRE),
        t(Action.DISPATCH, Status.REGISTERED, Status.DISPATCHED, _CENTRE, frozenset({Detail.TARGET})),
        t(Action.START, Status.DISPATCHED, Status.IN_PROGRESS, _HANDLERS),
        t(Action.HANDLE, Status.IN_PROGRESS, Status.HANDLED, _HANDLERS, frozenset({Detail.NOTE, Detail.PHOTO})),
        t(Action.CHECK, Status.HANDLED, Status.CHECKED, _CENTRE),
        t(Action.CLOSE, Status.CHECKED, Status.CLOSED, _SUPERVISION),
        t(Action.REWORK, Status.CHECKED, Status.REWORK, _CENTRE, _NOTE),
        t(Action.DISPATCH, Status.REWORK, Status.DISPATCHED, _CENTRE, frozenset({Detail.TARGET})),
        # Reassign: sent to the wrong grid or department, before anyone started on it (why, in the note).
        t(Action.DISPATCH, Status.DISPATCHED, Status.DISPATCHED, _CENTRE, frozenset({Detail.TARGET, Detail.NOTE})),
        t(Action.ESCALATE, Status.IN_PROGRESS, Status.ESCALATED, _ESCALATORS, _NOTE),
        # The parent grid takes an escalated case on itself, or sends it to a department.
        t(Action.START, Status.ESCALATED, Status.IN_PROGRESS, _HANDLERS),
        t(Action.DISPATCH, Status.ESCALATED, Status.DISPATCHED, _CENTRE | {Role.GRID_STAFF},
          frozenset({Detail.TARGET})),
        t(Action.RESUME, Status.DEFERRED, Status.REGISTERED, _SUPERVISION),
        # Seen clear: the operator looked at the clear picture, which is the check; one key closes it.
        t(Action.CLOSE, Status.HANDLED, Status.CLOSED, _CENTRE, frozenset({Detail.SEEN_CLEAR})),
    ]
    for status in (Status.REPORTED, Status.VERIFIED, Status.REGISTERED, *sorted(NOT_YET_HANDLED)):
        rows.append(t(Action.SEEN_CLEAR, status, Status.HANDLED, _CAMERAS))
    for status in sorted(OPEN):
        if status != Status.DEFERRED:
            rows.append(t(Action.DEFER, status, Status.DEFERRED, _SUPERVISION, _NOTE))
        rows.append(t(Action.INVALIDATE, status, Status.INVALID, _SUPERVISION, _NOTE))
    return tuple(rows)


TRANSITIONS: tuple[Transition, ...] = _table()
TABLE: Mapping[tuple[Status, Action], Transition] = {(t.source, t.action): t for t in TRANSITIONS}


def allowed_actions(status: Status | str, role: Role | str | None = None, seen_clear: bool = False) -> list[Action]:
    """The actions possible from ``status`` (for ``role`` when given), in table order: the buttons a UI shows.
    ``seen_clear``: the case's place was seen clear since its last sighting (closing it from handled)."""
    s = Status(status)
    return [
        t.action for t in TRANSITIONS if t.source == s
        and (Role(role) in t.roles if role is not None else t.roles != _CAMERAS)  # people's actions by default
        and (seen_clear or Detail.SEEN_CLEAR not in t.requires)
    ]


def transition(status: Status | str, action: Action | str) -> Transition:
    """The table row for ``action`` from ``status``; IllegalTransitionError naming what is possible otherwise."""
    try:
        s, a = Status(status), Action(action)
    except ValueError as exc:
        raise IllegalTransitionError(str(exc)) from None
    row = TABLE.get((s, a))
    if row is None:
        possible = ", ".join(allowed_actions(s)) or "nothing (the case is finished)"
        raise IllegalTransitionError(f"cannot {a} a case that is {s}; from {s} the possible actions are: {possible}")
    return row


def check(
    status: Status | str, action: Action | str, actor: Actor, details: Mapping[Detail, object] | None = None
) -> Transition:
    """The transition, after checking the actor's role and that every required detail is given (non-empty)."""
    row = transition(status, action)
    if Role.ADMIN != actor.role and actor.role not in row.roles:
        allowed = ", ".join(sorted(row.roles))
        raise RoleNotAllowedError(f"role {actor.role} may not {row.action} a case (allowed: {allowed})")
    given = details or {}
    missing = [d for d in sorted(row.requires) if not _present(given.get(d))]
    if Detail.SEEN_CLEAR in missing:
        raise MissingDetailError(
            f"a {status} case can be closed at once only when a camera saw its place clear since it was last "
            f"seen; otherwise check it first"
        )
    if missing:
        raise MissingDetailError(f"to {row.action} a case, give: {', '.join(missing)}")
    if Detail.REASON in row.requires:
        reason = given[Detail.REASON]
        if str(reason) not in set(RejectReason):
            raise MissingDetailError(
                f"reason must be one of {', '.join(RejectReason)}, got {reason!r}"
            )
    return row


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Iterable):
        return any(True for _ in value)
    return True
