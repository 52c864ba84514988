"""Acting on cases: every workflow transition, escalation to the parent grid, and the formal query (质询).

Each call checks the transition against alerts.workflow's table, changes the case and appends the audit row
in one transaction, so the log and the case never disagree. Deadlines come from the working-day calendar:

* dispatch starts the handling clock: ``due_at`` = the end of the n-th working day (``handling_working_days``,
  per category) after the first dispatch. Rework does not restart it; a deferral does (resume clears it).
* escalation gives the parent grid ``escalation_working_days`` (7) working days: ``escalation_due_at``.
* ``deadline_at`` is whichever of the two is running now; a case is overdue when it is held and not yet
  handled after that instant.

Once an escalated case is overdue, the grid that escalated it may file a formal query that the parent grid
must answer; filing earlier is refused with the deadline in the message.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts import audit, verdicts
from alerts.calendar import WorkingCalendar
from alerts.casebook import CaseBook, CaseFilter, CaseView, QueryView, query_view
from alerts.cases import CaseNotFoundError
from alerts.config import CaseSettings
from alerts.db import write_transaction
from alerts.models import CaseQueryRow, CaseRow, DepartmentRow, utc_now
from alerts.repository import check_media_path
from alerts.workflow import (
    NOT_YET_HANDLED,
    TERMINAL,
    Action,
    Actor,
    Detail,
    RejectReason,
    Role,
    WorkflowError,
    check,
)
from geo.routing import GridRouter

log = logging.getLogger(__name__)

_CASES = cast(sa.Table, CaseRow.__table__)
_QUERIES = cast(sa.Table, CaseQueryRow.__table__)
_DEPARTMENTS = cast(sa.Table, DepartmentRow.__table__)
MAX_NOTE = 4000
MAX_STAFF = 100


class TargetError(WorkflowError):
    """A dispatch or escalation target that does not exist or cannot take the case."""


class QueryNotAllowedError(WorkflowError):
    """A formal query filed before the parent's deadline, on a case that was not escalated, or by the wrong grid."""


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a case is dispatched: a grid (and optionally a named staff member) and/or a department."""

    grid: str | None = None
    department: str | None = None
    staff: str | None = None


class Casework:
    """The write side of the workflow for the dashboard and API: one method per action, all audited."""

    def __init__(
        self,
        engine: Engine,
        router: GridRouter,
        calendar: WorkingCalendar | None = None,
        settings: CaseSettings | None = None,
    ) -> None:
        self._engine = engine
        self._router = router
        self.settings = settings or CaseSettings()
        self.calendar = calendar or WorkingCalendar.load(self.settings.holidays_dir, tz=self.settings.timezone)
        self.book = CaseBook(engine, router)

    # --- the one entry point ------------------------------------------------------------------------------

    def apply(
        self,
        case_id: str,
        action: Action | str,
        actor: Actor,
        *,
        note: str | None = None,
        reason: str | None = None,
        target: Target | None = None,
        photo_path: str | None = None,
        now: datetime | None = None,
        verdict_reason: str | None = None,
    ) -> CaseView:
        """Apply ``action`` to a case; WorkflowError (IllegalTransition, RoleNotAllowed, MissingDetail, Target)
        when refused, CaseNotFoundError for an unknown id. ``now`` is for tests and imports of past cases.

        A verify or a false-alarm reject is also the operator's verdict on the camera alert: it is stored with
        what the pipeline saw (alerts.verdicts), ``verdict_reason`` from the category's short list."""
        now = now or utc_now()
        if note is not None and len(note) > MAX_NOTE:
            raise WorkflowError(f"note is {len(note)} characters; at most {MAX_NOTE}")
        target = target or Target()
        details: dict[Detail, object] = {
            Detail.NOTE: note, Detail.REASON: reason, Detail.PHOTO: photo_path,
            Detail.TARGET: target.grid or target.department,
        }
        with write_transaction(self._engine) as conn:
            row = self._lock(conn, case_id)
            details[Detail.SEEN_CLEAR] = row.possibly_resolved_at  # a clear pass since the last sighting
            t = check(row.status, action, actor, details)
            values: dict[str, Any] = {
                "status": t.target.value, "is_open": t.target not in TERMINAL, "updated_at": now,
            }
            data = self._effects(conn, row, t.action, values, now, reason, target, note, photo_path)
            real = {Action.VERIFY: True, Action.REJECT: False}.get(t.action)
            if real is not None and (real or reason == RejectReason.FALSE_ALARM.value):
                why = verdicts.check_reason(row.category, real, verdict_reason)
                if verdicts.record(conn, row, real, why, actor, now) is not None:
                    data["verdict"] = why
            conn.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(**values))
            audit.record(conn, case_id, t.action, actor, now, row.status, t.target.value, note, data)
        log.info("case %s: %s -> %s by %s (%s, grid %s)", case_id, row.status, t.target, actor.name, actor.role,
                 actor.grid_code)
        return self.book.get(case_id, now)

    def _lock(self, conn: Connection, case_id: str) -> Any:
        query = sa.select(_CASES).where(_CASES.c.id == case_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # SQLite: the write transaction is exclusive already
        row = conn.execute(query).first()
        if row is None:
            raise CaseNotFoundError(f"no case {case_id}")
        return row

    def _effects(
        self, conn: Connection, row: Any, action: Action, values: dict[str, Any], now: datetime,
        reason: str | None, target: Target, note: str | None, photo_path: str | None,
    ) -> dict[str, Any]:
        """The column changes of one action (into ``values``) and the audit data it records."""
        data: dict[str, Any] = {}
        if action == Action.VERIFY:
            values.update(verified_at=now, verify_seconds=_seconds(row.reported_at, now))
        elif action in (Action.REJECT, Action.INVALIDATE):
            values.update(dropped_at=now, drop_reason=reason or "invalid", deadline_at=None)
            if action == Action.REJECT:
                values["verify_seconds"] = _seconds(row.reported_at, now)  # the operator's decision, either way
                data["reason"] = reason
        elif action == Action.REGISTER:
            values["registered_at"] = now
        elif action == Action.START:
            if row.response_seconds is None and row.dispatched_at is not None:
                values["response_seconds"] = _seconds(row.dispatched_at, now)
        elif action == Action.DISPATCH:
            data.update(self._dispatch(conn, row, values, now, target))
        elif action == Action.HANDLE:
            check_media_path(photo_path)
            values.update(feedback_note=note, feedback_photo=photo_path)
            if row.handled_at is None:
                values["handled_at"] = now
            data["photo"] = photo_path
        elif action == Action.CLOSE:
            on_time = row.due_at is None or now <= row.due_at
            values.update(closed_at=now, closed_on_time=on_time, deadline_at=None)
            data["on_time"] = on_time
        elif action == Action.REWORK:
            values["rework_count"] = row.rework_count + 1
        elif action == Action.ESCALATE:
            data.update(self._escalate(row, values, now))
        elif action == Action.DEFER:
            values["deadline_at"] = None  # the clock stops: deferred cases are not due
        elif action == Action.RESUME:
            values.update(due_at=None, deadline_at=None)  # the next dispatch starts a fresh clock
        return data

    def _dispatch(
        self, conn: Connection, row: Any, values: dict[str, Any], now: datetime, target: Target
    ) -> dict[str, Any]:
        if target.grid is not None and target.grid not in self._router:
            raise TargetError(f"cannot dispatch case {row.id} to grid {target.grid!r}: it is not in the grid map")
        if target.department is not None:
            known = conn.execute(
                sa.select(_DEPARTMENTS.c.code).where(_DEPARTMENTS.c.code == target.department)
            ).first()
            if known is None:
                raise TargetError(f"cannot dispatch case {row.id} to department {target.department!r}: unknown")
        if target.staff is not None and (not target.staff.strip() or len(target.staff) > MAX_STAFF):
            raise TargetError(f"staff must be a name of 1..{MAX_STAFF} characters, got {target.staff!r}")
        if target.grid is not None:
            values["assignee_grid"] = target.grid
        values.update(department=target.department, assignee_staff=target.staff)
        if row.dispatched_at is None:
            values.update(dispatched_at=now, dispatch_seconds=_seconds(row.reported_at, now))
        due = row.due_at
        if due is None:
            due = self.calendar.deadline(now, self.settings.handling_days(row.category))
            values["due_at"] = due
        values["deadline_at"] = row.escalation_due_at if row.escalated_at is not None else due
        return {"grid": target.grid, "department": target.department, "staff": target.staff, "due_at": due}

    def _escalate(self, row: Any, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        lower = row.assignee_grid
        if lower is None:
            raise TargetError(f"case {row.id} has no grid, so there is no parent grid to escalate to")
        parent = self._router.parent(lower)
        if parent is None:
            raise TargetError(f"case {row.id} is held by {lower}, a top-level grid: there is no parent to escalate to")
        due = self.calendar.deadline(now, self.settings.escalation_working_days)
        values.update(
            escalated_at=now, escalated_from=lower, assignee_grid=parent, escalation_due_at=due, deadline_at=due,
            department=None, assignee_staff=None,
        )
        return {"from_grid": lower, "to_grid": parent, "due_at": due}

    # --- one method per action, for callers that prefer names ---------------------------------------------------

    def verify(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.VERIFY, actor, note=note, **kw)

    def reject(self, case_id: str, actor: Actor, reason: str, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.REJECT, actor, reason=reason, note=note, **kw)

    def register(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.REGISTER, actor, note=note, **kw)

    def dispatch(self, case_id: str, actor: Actor, target: Target, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.DISPATCH, actor, target=target, note=note, **kw)

    def start(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.START, actor, note=note, **kw)

    def handle(self, case_id: str, actor: Actor, note: str, photo_path: str, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.HANDLE, actor, note=note, photo_path=photo_path, **kw)

    def check(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.CHECK, actor, note=note, **kw)

    def close(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.CLOSE, actor, note=note, **kw)

    def rework(self, case_id: str, actor: Actor, note: str, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.REWORK, actor, note=note, **kw)

    def escalate(self, case_id: str, actor: Actor, note: str, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.ESCALATE, actor, note=note, **kw)

    def defer(self, case_id: str, actor: Actor, note: str, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.DEFER, actor, note=note, **kw)

    def resume(self, case_id: str, actor: Actor, note: str | None = None, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.RESUME, actor, note=note, **kw)

    def invalidate(self, case_id: str, actor: Actor, note: str, **kw: Any) -> CaseView:
        return self.apply(case_id, Action.INVALIDATE, actor, note=note, **kw)

    def promote(self, case_id: str, actor: Actor, now: datetime | None = None) -> CaseView:
        """Move a case from the desk's low-priority lane (the verdict filter doubted it) to the wall (audited)."""
        now = now or utc_now()
        if actor.role not in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN):
            raise WorkflowError(f"role {actor.role} may not promote a case to the wall")
        with write_transaction(self._engine) as conn:
            row = self._lock(conn, case_id)
            if row.lane != "low":
                raise WorkflowError(f"case {case_id} is on the wall already")
            conn.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(lane="wall", updated_at=now))
            audit.record(conn, case_id, "promote", actor, now, row.status, row.status, None,
                         {"likely_real": row.likely_real})
        log.info("case %s promoted to the wall by %s", case_id, actor.name)
        return self.book.get(case_id, now)

    # --- the formal query (质询) ----------------------------------------------------------------------------------

    def file_query(self, case_id: str, actor: Actor, question: str, now: datetime | None = None) -> QueryView:
        """The grid that escalated a case asks its parent, formally, why an overdue case is not handled."""
        now = now or utc_now()
        if not question.strip() or len(question) > MAX_NOTE:
            raise WorkflowError(f"a query needs a question of 1..{MAX_NOTE} characters")
        with write_transaction(self._engine) as conn:
            row = self._lock(conn, case_id)
            due = row.escalation_due_at
            if row.escalated_at is None or due is None:
                raise QueryNotAllowedError(f"case {case_id} was never escalated; a query is about an escalated case")
            if row.status not in NOT_YET_HANDLED:
                raise QueryNotAllowedError(f"case {case_id} is {row.status}: the parent grid has acted on it")
            if now <= due:
                local = due.astimezone(self.calendar.tz)
                raise QueryNotAllowedError(
                    f"case {case_id} is not overdue: grid {row.assignee_grid} has until "
                    f"{local:%Y-%m-%d %H:%M} ({self.calendar.tz.key}); a query can be filed only after that"
                )
            if actor.role != Role.ADMIN and (actor.role not in (Role.GRID_STAFF, Role.SUPERVISOR)
                                             or actor.grid_code != row.escalated_from):
                raise QueryNotAllowedError(
                    f"only the grid that escalated case {case_id} ({row.escalated_from}) may file a query; "
                    f"{actor.name} acts for {actor.grid_code or 'the centre'} as {actor.role}"
                )
            waiting = conn.execute(
                sa.select(_QUERIES.c.id).where(_QUERIES.c.case_id == case_id, _QUERIES.c.answered_at.is_(None))
            ).first()
            if waiting is not None:
                raise QueryNotAllowedError(f"query {waiting.id} on case {case_id} is still waiting for an answer")
            query_id = conn.execute(
                sa.insert(_QUERIES).values(
                    case_id=case_id, filed_at=now, filed_by=actor.name, filed_role=str(actor.role),
                    filed_grid=actor.grid_code, to_grid=row.assignee_grid, missed_deadline=due, question=question,
                ).returning(_QUERIES.c.id)
            ).scalar_one()
            audit.record(conn, case_id, "query", actor, now, row.status, row.status, question,
                         {"query_id": query_id, "to_grid": row.assignee_grid, "missed_deadline": due})
            result = query_view(conn.execute(sa.select(_QUERIES).where(_QUERIES.c.id == query_id)).one())
        log.warning("case %s overdue since %s: grid %s filed query %d to %s", case_id, due, actor.grid_code,
                    query_id, row.assignee_grid)
        return result

    def answer_query(self, query_id: int, actor: Actor, answer: str, now: datetime | None = None) -> QueryView:
        """The parent grid answers a formal query; the answer is recorded beside it and in the case's log."""
        now = now or utc_now()
        if not answer.strip() or len(answer) > MAX_NOTE:
            raise WorkflowError(f"an answer needs 1..{MAX_NOTE} characters")
        with write_transaction(self._engine) as conn:
            q = conn.execute(sa.select(_QUERIES).where(_QUERIES.c.id == query_id)).first()
            if q is None:
                raise QueryNotAllowedError(f"no query {query_id}")
            if q.answered_at is not None:
                raise QueryNotAllowedError(f"query {query_id} was answered at {q.answered_at.isoformat()}")
            if actor.role != Role.ADMIN and actor.grid_code != q.to_grid:
                raise QueryNotAllowedError(
                    f"query {query_id} is addressed to grid {q.to_grid}; {actor.name} acts for "
                    f"{actor.grid_code or 'the centre'}"
                )
            conn.execute(sa.update(_QUERIES).where(_QUERIES.c.id == query_id).values(
                answered_at=now, answered_by=actor.name, answered_role=str(actor.role), answer=answer,
            ))
            row = self._lock(conn, q.case_id)
            audit.record(conn, q.case_id, "answer", actor, now, row.status, row.status, answer,
                         {"query_id": query_id})
            return query_view(conn.execute(sa.select(_QUERIES).where(_QUERIES.c.id == query_id)).one())

    # --- what the wall flags -------------------------------------------------------------------------------------

    def overdue(self, grid: str | None = None, now: datetime | None = None, limit: int = 100) -> list[CaseView]:
        """Held, not yet handled cases past their deadline (in ``grid``'s subtree when given), oldest first."""
        return self.book.queue(CaseFilter(grid=grid, overdue_only=True, limit=limit), now=now)
