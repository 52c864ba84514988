"""The transition table of the closed loop: every allowed step, and clear refusals for everything else."""
from __future__ import annotations

import pytest

from alerts.workflow import (
    OPEN,
    TABLE,
    TERMINAL,
    TRANSITIONS,
    Action,
    Actor,
    Detail,
    IllegalTransitionError,
    MissingDetailError,
    Role,
    RoleNotAllowedError,
    Status,
    allowed_actions,
    check,
    transition,
)

OPERATOR = Actor("王敏", Role.OPERATOR)
SUPERVISOR = Actor("李强", Role.SUPERVISOR)
STAFF = Actor("张伟", Role.GRID_STAFF, "410105001001001")


def test_the_closed_loop_from_report_to_close_with_one_rework() -> None:
    path = [
        (Action.VERIFY, OPERATOR, {}, Status.VERIFIED),
        (Action.REGISTER, OPERATOR, {}, Status.REGISTERED),
        (Action.DISPATCH, OPERATOR, {Detail.TARGET: "410105001001001"}, Status.DISPATCHED),
        (Action.START, STAFF, {}, Status.IN_PROGRESS),
        (Action.HANDLE, STAFF, {Detail.NOTE: "劝离", Detail.PHOTO: "feedback/1.jpg"}, Status.HANDLED),
        (Action.CHECK, OPERATOR, {}, Status.CHECKED),
        (Action.REWORK, OPERATOR, {Detail.NOTE: "摊位仍在"}, Status.REWORK),
        (Action.DISPATCH, OPERATOR, {Detail.TARGET: "urban_management"}, Status.DISPATCHED),
        (Action.START, Actor("城管三中队", Role.DEPARTMENT), {}, Status.IN_PROGRESS),
        (Action.HANDLE, STAFF, {Detail.NOTE: "已清理", Detail.PHOTO: "feedback/2.jpg"}, Status.HANDLED),
        (Action.CHECK, OPERATOR, {}, Status.CHECKED),
        (Action.CLOSE, SUPERVISOR, {}, Status.CLOSED),
    ]
    status = Status.REPORTED
    for action, actor, details, expected in path:
        status = check(status, action, actor, details).target
        assert status == expected, action
    assert status in TERMINAL and allowed_actions(status) == []


def test_escalation_defer_and_invalid_paths() -> None:
    assert transition(Status.IN_PROGRESS, Action.ESCALATE).target == Status.ESCALATED
    assert transition(Status.ESCALATED, Action.START).target == Status.IN_PROGRESS  # the parent takes it on
    assert transition(Status.ESCALATED, Action.DISPATCH).target == Status.DISPATCHED  # or sends it on
    for status in OPEN:
        assert transition(status, Action.INVALIDATE).target == Status.INVALID
        if status != Status.DEFERRED:
            assert transition(status, Action.DEFER).target == Status.DEFERRED
    assert transition(Status.DEFERRED, Action.RESUME).target == Status.REGISTERED
    assert transition(Status.REPORTED, Action.REJECT).target == Status.REJECTED


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (Status.REPORTED, Action.CLOSE,
         "cannot close a case that is reported; from reported the possible actions are: verify, reject, defer, "
         "invalidate"),
        (Status.CLOSED, Action.REWORK, "cannot rework a case that is closed; from closed the possible actions are: "
                                       "nothing (the case is finished)"),
        (Status.DISPATCHED, Action.ESCALATE, "cannot escalate a case that is dispatched"),
        (Status.HANDLED, Action.REWORK, "cannot rework a case that is handled; from handled the possible actions "
                                        "are: check, defer, invalidate"),
        (Status.DEFERRED, Action.DEFER, "cannot defer a case that is deferred"),
        ("flying", Action.VERIFY, "'flying' is not a valid Status"),
    ],
)
def test_illegal_transitions_are_refused_naming_what_is_possible(
    status: Status | str, action: Action, message: str
) -> None:
    with pytest.raises(IllegalTransitionError) as err:
        transition(status, action)
    assert message in str(err.value)


def test_every_pair_is_either_in_the_table_or_refused_and_every_status_is_reachable() -> None:
    for status in Status:
        for action in Action:
            if (status, action) in TABLE:
                assert transition(status, action) is TABLE[(status, action)]
            else:
                with pytest.raises(IllegalTransitionError):
                    transition(status, action)
    reachable = {Status.REPORTED}
    frontier = [Status.REPORTED]
    while frontier:
        s = frontier.pop()
        for t in TRANSITIONS:
            if t.source == s and t.target not in reachable:
                reachable.add(t.target)
                frontier.append(t.target)
    assert reachable == set(Status)


def test_roles_and_required_details_are_checked() -> None:
    with pytest.raises(RoleNotAllowedError, match="role grid_staff may not close a case"):
        check(Status.CHECKED, Action.CLOSE, STAFF)
    with pytest.raises(RoleNotAllowedError, match="role operator may not defer a case"):
        check(Status.REGISTERED, Action.DEFER, OPERATOR, {Detail.NOTE: "rain"})
    with pytest.raises(MissingDetailError, match="to handle a case, give: photo"):
        check(Status.IN_PROGRESS, Action.HANDLE, STAFF, {Detail.NOTE: "done", Detail.PHOTO: " "})
    with pytest.raises(MissingDetailError, match="to dispatch a case, give: target"):
        check(Status.REGISTERED, Action.DISPATCH, OPERATOR)
    with pytest.raises(MissingDetailError, match="reason must be one of false_alarm, duplicate, got 'boring'"):
        check(Status.REPORTED, Action.REJECT, OPERATOR, {Detail.REASON: "boring"})
    assert check(Status.CHECKED, Action.CLOSE, Actor("root", Role.ADMIN)).target == Status.CLOSED
    assert allowed_actions(Status.IN_PROGRESS, Role.GRID_STAFF) == [Action.HANDLE, Action.ESCALATE]
