"""Acting on cases in the database: the closed loop, its audit log, dispatch targets, escalation and 质询."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from alerts.cases import CaseService, Observation
from alerts.casework import Casework, QueryNotAllowedError, Target, TargetError
from alerts.departments import add_department, list_departments
from alerts.repository import Repository
from alerts.workflow import Actor, IllegalTransitionError, MissingDetailError, Role

GRID = "410105001001001"  # the demo map's north-west grid
COMMUNITY = GRID[:12]
OFFICE = GRID[:9]
AT = (34.7990, 113.6610)  # a point in GRID
OPERATOR = Actor("王敏", Role.OPERATOR)
SUPERVISOR = Actor("李强", Role.SUPERVISOR)
STAFF = Actor("张伟", Role.GRID_STAFF, GRID)
COMMUNITY_STAFF = Actor("刘洋", Role.GRID_STAFF, COMMUNITY)
OFFICE_STAFF = Actor("陈静", Role.GRID_STAFF, OFFICE)


def bj(text: str) -> datetime:
    """A Beijing wall-clock time, e.g. '2026-04-02 10:00', as an aware datetime."""
    return datetime.fromisoformat(text + "+08:00")


def _new_case(service: CaseService, at: datetime, category: str = "0503", where: tuple[float, float] = AT) -> str:
    return service.ingest([Observation(category=category, seen_at=at, lat=where[0], lon=where[1],
                                       camera_id="car-1")])[0].case_id


def _in_progress(work: Casework, case_id: str, at: datetime) -> None:
    work.verify(case_id, OPERATOR, now=at)
    work.register(case_id, OPERATOR, now=at + timedelta(minutes=1))
    work.dispatch(case_id, OPERATOR, Target(grid=GRID, staff="张伟"), now=at + timedelta(minutes=2))
    work.start(case_id, STAFF, now=at + timedelta(minutes=3))


def test_a_case_goes_round_the_loop_and_every_step_is_in_the_audit_log(
    work: Casework, service: CaseService
) -> None:
    t0 = bj("2026-11-23 09:00")  # a Monday
    case_id = _new_case(service, t0)
    _in_progress(work, case_id, t0 + timedelta(minutes=10))
    work.handle(case_id, STAFF, "摊主已劝离", "feedback/2026/11/23/a.jpg", now=t0 + timedelta(hours=2))
    work.check(case_id, OPERATOR, now=t0 + timedelta(hours=3))
    work.rework(case_id, OPERATOR, "复查仍有占道", now=t0 + timedelta(hours=4))
    work.dispatch(case_id, OPERATOR, Target(department="urban_management"), now=t0 + timedelta(hours=5))
    work.start(case_id, Actor("城管三中队", Role.DEPARTMENT), now=t0 + timedelta(hours=6))
    work.handle(case_id, STAFF, "已清理", "feedback/2026/11/23/b.jpg", now=t0 + timedelta(days=1))
    work.check(case_id, OPERATOR, now=t0 + timedelta(days=1, hours=1))
    case = work.close(case_id, SUPERVISOR, now=t0 + timedelta(days=1, hours=2))

    assert case.status == "closed" and not case.is_open
    assert case.rework_count == 1 and case.closed_on_time is True
    assert case.department == "urban_management" and case.assignee_grid == GRID
    assert case.feedback_note == "已清理" and case.feedback_photo_url == "/media/feedback/2026/11/23/b.jpg"
    # Dispatched Monday 09:12: five working days -> due at the end of Monday 11-30, Beijing time.
    assert case.due_at == bj("2026-12-01 00:00")
    assert case.dispatched_at == t0 + timedelta(minutes=12)  # the first dispatch, not the rework's

    history = work.book.history(case_id)
    assert [(e.action, e.from_status, e.to_status) for e in history] == [
        ("report", None, "reported"),
        ("verify", "reported", "verified"), ("register", "verified", "registered"),
        ("dispatch", "registered", "dispatched"), ("start", "dispatched", "in_progress"),
        ("handle", "in_progress", "handled"), ("check", "handled", "checked"),
        ("rework", "checked", "rework"), ("dispatch", "rework", "dispatched"),
        ("start", "dispatched", "in_progress"), ("handle", "in_progress", "handled"),
        ("check", "handled", "checked"), ("close", "checked", "closed"),
    ]
    handle = history[5]
    assert (handle.actor, handle.role, handle.actor_grid, handle.note) == ("张伟", "grid_staff", GRID, "摊主已劝离")
    assert handle.data["photo"] == "feedback/2026/11/23/a.jpg"
    assert history[3].data["staff"] == "张伟" and history[8].data["department"] == "urban_management"
    assert history[7].note == "复查仍有占道"


def test_an_illegal_step_is_refused_and_changes_nothing(work: Casework, service: CaseService, repo: Repository) -> None:
    case_id = _new_case(service, bj("2026-11-23 09:00"))
    with pytest.raises(IllegalTransitionError, match="cannot close a case that is reported"):
        work.close(case_id, SUPERVISOR)
    case = work.book.get(case_id)
    assert case.status == "reported" and case.closed_at is None
    assert [e.action for e in work.book.history(case_id)] == ["report"]

    # The log cannot be edited behind the workflow's back either.
    for statement in ("UPDATE case_events SET actor = 'nobody'", "DELETE FROM case_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), repo.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert work.book.history(case_id)[0].actor == "car-1"


def test_rejected_cases_take_no_more_sightings_into_the_queue(work: Casework, service: CaseService) -> None:
    t0 = bj("2026-11-23 09:00")
    false_alarm = _new_case(service, t0, category="0502")
    work.reject(false_alarm, OPERATOR, "false_alarm", "a pedestrian waiting for the bus", now=t0)
    assert work.book.get(false_alarm).drop_reason == "false_alarm"
    again = _new_case(service, t0 + timedelta(minutes=5), category="0502")  # kept quietly (cases.suppress_days)
    assert again == false_alarm
    case = work.book.get(false_alarm)
    assert (case.status, case.is_open, case.sightings, case.suppressed) == ("rejected", False, 1, 1)


def test_dispatch_targets_must_exist(work: Casework, service: CaseService, repo: Repository) -> None:
    case_id = _new_case(service, bj("2026-11-23 09:00"))
    work.verify(case_id, OPERATOR)
    work.register(case_id, OPERATOR)
    with pytest.raises(TargetError, match="grid '410105009': it is not in the grid map"):
        work.dispatch(case_id, OPERATOR, Target(grid="410105009"))
    with pytest.raises(TargetError, match="department 'fire_brigade'.*unknown"):
        work.dispatch(case_id, OPERATOR, Target(department="fire_brigade"))
    assert {d.code for d in list_departments(repo.engine)} >= {"civil_affairs", "urban_management",
                                                                "market_regulation"}
    add_department(repo.engine, "fire_brigade", "消防", "fire brigade")
    assert work.dispatch(case_id, OPERATOR, Target(department="fire_brigade")).department == "fire_brigade"


def test_escalation_climbs_one_level_at_a_time_and_stops_at_the_top(work: Casework, service: CaseService) -> None:
    t0 = bj("2026-11-23 09:00")
    case_id = _new_case(service, t0)
    _in_progress(work, case_id, t0)
    case = work.escalate(case_id, STAFF, "需要社区协调", now=t0 + timedelta(hours=1))
    assert (case.status, case.assignee_grid, case.escalated_from) == ("escalated", COMMUNITY, GRID)
    work.start(case_id, COMMUNITY_STAFF, now=t0 + timedelta(hours=2))
    case = work.escalate(case_id, COMMUNITY_STAFF, "需要街道协调", now=t0 + timedelta(hours=3))
    assert (case.assignee_grid, case.escalated_from) == (OFFICE, COMMUNITY)
    work.start(case_id, OFFICE_STAFF, now=t0 + timedelta(hours=4))
    with pytest.raises(TargetError, match="top-level grid: there is no parent"):
        work.escalate(case_id, OFFICE_STAFF, "still stuck")


@pytest.mark.parametrize(
    ("escalated", "due"),
    [
        # Thursday before Qingming: Fri, then Sat-Mon 4-6 April off, so the 7th working day is Tuesday 14th.
        ("2026-04-02 10:00", "2026-04-15 00:00"),
        # Friday 16:00: the weekend does not count; the 7th working day is the Tuesday after next.
        ("2026-11-20 16:00", "2026-12-02 00:00"),
        # Spring Festival 2026: Sat 14 Feb is a make-up workday, 15-23 Feb are off, Sat 28 Feb is worked again.
        ("2026-02-11 10:00", "2026-02-28 00:00"),
        ("2026-02-25 10:00", "2026-03-06 00:00"),
        # 01:00 Beijing time is still 17:00 UTC the day before: days count from the Beijing date.
        ("2026-02-12 01:00", "2026-03-01 00:00"),
    ],
)
def test_an_escalated_case_is_due_in_seven_working_days(
    work: Casework, service: CaseService, escalated: str, due: str
) -> None:
    at = bj(escalated)
    case_id = _new_case(service, at - timedelta(hours=2))
    _in_progress(work, case_id, at - timedelta(hours=1))
    case = work.escalate(case_id, STAFF, "超出网格处置能力", now=at)
    assert case.escalation_due_at == bj(due)
    assert case.deadline_at == bj(due)
    assert case.escalation_due_at is not None and case.escalation_due_at.tzinfo == UTC


def test_a_query_can_be_filed_only_once_the_parent_is_overdue_and_must_be_answered(
    work: Casework, service: CaseService
) -> None:
    at = bj("2026-04-02 10:00")
    case_id = _new_case(service, at - timedelta(hours=2))
    _in_progress(work, case_id, at - timedelta(hours=1))
    due = work.escalate(case_id, STAFF, "需要社区协调", now=at).escalation_due_at
    assert due == bj("2026-04-15 00:00")

    with pytest.raises(QueryNotAllowedError, match=r"not overdue: grid 410105001001 has until 2026-04-15 00:00 "
                                                   r"\(Asia/Shanghai\); a query can be filed only after that"):
        work.file_query(case_id, STAFF, "为何未处置？", now=due - timedelta(seconds=1))
    assert work.overdue(now=due - timedelta(seconds=1)) == []
    late = due + timedelta(hours=1)
    assert [c.id for c in work.overdue(grid=OFFICE, now=late)] == [case_id]
    assert work.book.get(case_id, now=late).overdue

    with pytest.raises(QueryNotAllowedError, match="only the grid that escalated case"):
        work.file_query(case_id, Actor("赵六", Role.GRID_STAFF, "410105001001002"), "?", now=late)
    query = work.file_query(case_id, STAFF, "已超过7个工作日，请说明原因", now=late)
    assert (query.to_grid, query.filed_grid, query.missed_deadline, query.answer) == (COMMUNITY, GRID, due, None)
    with pytest.raises(QueryNotAllowedError, match="still waiting for an answer"):
        work.file_query(case_id, STAFF, "again", now=late)
    with pytest.raises(QueryNotAllowedError, match=f"addressed to grid {COMMUNITY}"):
        work.answer_query(query.id, STAFF, "not mine to answer", now=late)
    answered = work.answer_query(query.id, COMMUNITY_STAFF, "协调城管中队，明日处置", now=late + timedelta(hours=2))
    assert answered.answer == "协调城管中队，明日处置" and answered.answered_by == "刘洋"
    assert [q.answered_at for q in work.book.queries(to_grid=COMMUNITY, open_only=True)] == []
    assert [e.action for e in work.book.history(case_id)][-2:] == ["query", "answer"]

    # Once the parent acts, the case is no longer overdue and there is nothing left to query.
    work.start(case_id, COMMUNITY_STAFF, now=late + timedelta(hours=3))
    work.handle(case_id, COMMUNITY_STAFF, "已处置", "feedback/x.jpg", now=late + timedelta(hours=4))
    assert work.overdue(now=late + timedelta(days=1)) == []
    with pytest.raises(QueryNotAllowedError, match="the parent grid has acted on it"):
        work.file_query(case_id, STAFF, "?", now=late + timedelta(days=1))


def test_a_case_that_was_never_escalated_cannot_be_queried(work: Casework, service: CaseService) -> None:
    case_id = _new_case(service, bj("2026-11-23 09:00"))
    with pytest.raises(QueryNotAllowedError, match="never escalated"):
        work.file_query(case_id, STAFF, "?")


def test_a_deferred_case_stops_its_clock_and_restarts_it_when_resumed(work: Casework, service: CaseService) -> None:
    t0 = bj("2026-11-23 09:00")
    case_id = _new_case(service, t0)
    _in_progress(work, case_id, t0)
    assert work.book.get(case_id).deadline_at is not None
    deferred = work.defer(case_id, SUPERVISOR, "待雨停后处置", now=t0 + timedelta(hours=1))
    assert deferred.deadline_at is None and not deferred.overdue
    work.resume(case_id, SUPERVISOR, now=t0 + timedelta(days=10))
    again = work.dispatch(case_id, OPERATOR, Target(grid=GRID), now=t0 + timedelta(days=10))
    assert again.due_at == bj("2026-12-11 00:00")  # 5 working days from Thursday 3 December


def test_a_case_sent_to_the_wrong_grid_is_reassigned_before_work_starts(
    work: Casework, service: CaseService
) -> None:
    t0 = bj("2026-11-23 09:00")
    case_id = _new_case(service, t0)
    work.verify(case_id, OPERATOR, now=t0)
    work.register(case_id, OPERATOR, now=t0)
    first = work.dispatch(case_id, OPERATOR, Target(grid=GRID), now=t0 + timedelta(minutes=1))
    with pytest.raises(MissingDetailError, match="note"):
        work.dispatch(case_id, OPERATOR, Target(department="market_regulation"))  # a reassign says why
    moved = work.dispatch(case_id, OPERATOR, Target(department="market_regulation"), note="无照经营归市场监管",
                          now=t0 + timedelta(hours=1))
    assert (moved.status, moved.department) == ("dispatched", "market_regulation")
    # The handling clock and the dispatch figures keep the first dispatch: a reassign is not a second dispatch.
    assert moved.dispatched_at == first.dispatched_at and moved.due_at == first.due_at
    work.start(case_id, Actor("市场监管所", Role.DEPARTMENT), now=t0 + timedelta(hours=2))
    with pytest.raises(IllegalTransitionError, match="cannot dispatch a case that is in_progress"):
        work.dispatch(case_id, OPERATOR, Target(grid=GRID), note="too late")
