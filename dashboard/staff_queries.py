"""The grid staff's phone page without a browser: my cases, whether I may open one, and what I do with it.

A user scoped to a grid sees the cases that lie in that grid's subtree (or that were handed to a grid in it);
a department user sees what was dispatched to the department. Grid codes are hierarchical (a child's code
starts with its parent's), so "in my subtree" is a prefix test on the case's codes.
"""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alerts.casebook import CaseBook, CaseFilter, CaseView, QueryView
from alerts.casework import Casework
from alerts.workflow import Actor, Status, WorkflowError
from geo.scope import within
from gridwatch.photos import Photo, PhotoError, check_photo, decode_base64, photo_relpath, stored_when_accepted

log = logging.getLogger(__name__)

# What a grid or a department has to do something about (or is waiting on the centre to check).
STAFF_STATUSES: tuple[Status, ...] = (
    Status.DISPATCHED, Status.IN_PROGRESS, Status.REWORK, Status.ESCALATED, Status.HANDLED,
)


class UploadError(WorkflowError):
    """A feedback photo that is not an image, or too big."""


def case_in_scope(case: CaseView, scope: str | None) -> bool:
    """Whether a user scoped to ``scope`` (None: the whole territory) may open ``case``."""
    if scope is None:
        return True
    codes = (case.grid_code, case.community_code, case.assignee_grid, case.escalated_from)
    return any(within(code, scope) for code in codes)


def my_cases(book: CaseBook, scope: str | None, department: str | None = None, limit: int = 100,
             now: datetime | None = None) -> list[CaseView]:
    """The open cases of a grid subtree (or a department), most urgent deadline first."""
    statuses = [s.value for s in STAFF_STATUSES]
    if department is not None:
        return book.queue(CaseFilter(statuses=statuses, department=department, limit=limit), now=now)
    cases = book.queue(CaseFilter(statuses=statuses, grid=scope, limit=limit), now=now) if scope else \
        book.queue(CaseFilter(statuses=statuses, limit=limit), now=now)
    if scope is not None:
        # Escalated upwards out of the subtree's columns but still assigned inside it: kept by the prefix test.
        cases = [c for c in cases if case_in_scope(c, scope)]
    return cases


def queries_for(book: CaseBook, scope: str | None) -> list[QueryView]:
    """Formal queries waiting for an answer from the user's grid (all of them for the whole territory)."""
    if scope is None:
        return book.queries(open_only=True)
    return [q for q in book.queries(open_only=True) if within(q.to_grid, scope)]


def upload_photo(contents: str) -> Photo:
    """A dcc.Upload data URL (``data:image/jpeg;base64,...``) as a checked photo (header only, nothing stored)."""
    head, _, payload = contents.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        raise UploadError("the photo must be a JPEG, PNG or WebP image sent as a data URL")
    try:
        return check_photo(decode_base64(payload))
    except PhotoError as exc:
        raise UploadError(f"the photo is {exc}") from None


def accept(cw: Casework, case_id: str, actor: Actor, now: datetime | None = None) -> CaseView:
    return cw.start(case_id, actor, now=now)


def feedback(cw: Casework, media_dir: Path, case_id: str, actor: Actor, note: str, photo: str | None) -> CaseView:
    """Report the case handled: a note and a photo are both required by the workflow."""
    if not note or not note.strip():
        raise WorkflowError("write what was done")
    if not photo:
        raise WorkflowError("add a photo of the place after handling")
    checked = upload_photo(photo)
    rel = photo_relpath("feedback", f"{case_id}-{uuid.uuid4().hex[:8]}", f"{datetime.now(UTC):%Y/%m/%d}", checked)
    with stored_when_accepted(media_dir, rel, checked):  # a refused action leaves no photo behind
        return cw.handle(case_id, actor, note=note.strip(), photo_path=rel)


def escalate(cw: Casework, case_id: str, actor: Actor, note: str, now: datetime | None = None) -> CaseView:
    return cw.escalate(case_id, actor, note=note, now=now)


def file_query(cw: Casework, case_id: str, actor: Actor, question: str, now: datetime | None = None) -> QueryView:
    """A formal query to the parent grid; refused (with the deadline) until the parent is overdue."""
    return cw.file_query(case_id, actor, question, now=now)


def answer_query(cw: Casework, query_id: int, actor: Actor, answer: str, now: datetime | None = None) -> QueryView:
    return cw.answer_query(query_id, actor, answer, now=now)
