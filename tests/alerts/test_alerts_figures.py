"""Figures for a subtree and period, the monthly assessment, and their CSV / XLSX export."""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from alerts import figures as figures_module
from alerts.assessment import AssessmentRules, Assessor, month_bounds, score
from alerts.casebook import CaseFilter, CaseView
from alerts.cases import CaseService, Observation
from alerts.casework import Casework, Target
from alerts.export import assessment_table, csv_bytes, figures_table, xlsx_bytes
from alerts.figures import FigureBook, Figures
from alerts.repository import Repository
from alerts.workflow import Action, Actor, Role, allowed_actions, transition
from geo.routing import GridRouter

ADMIN = Actor("管理员", Role.ADMIN)
OPERATOR = Actor("王敏", Role.OPERATOR)
SUPERVISOR = Actor("李强", Role.SUPERVISOR)
GRID = "410105001001001"
STAFF = Actor("张伟", Role.GRID_STAFF, GRID)


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


NOV_START, NOV_END = bj("2026-11-01 00:00"), bj("2026-12-01 00:00")


def _case(service: CaseService, at: datetime, lat: float = 34.7990, lon: float = 113.6610,
          category: str = "0503") -> str:
    return service.ingest([Observation(category=category, seen_at=at, lat=lat, lon=lon, camera_id="car-1")])[0].case_id


def _expected(cases: list[CaseView], as_of: datetime) -> dict[str, int]:
    """The module's definitions, counted in Python from the cases themselves."""
    dropped = {"rejected", "invalid"}
    rejected = [c for c in cases if c.status in dropped and c.dispatched_at is None]
    return {
        "reported": len(cases),
        "rejected": len(rejected),
        "collected": len(cases) - len(rejected),
        "registered": sum(c.registered_at is not None for c in cases),
        "dispatched": sum(c.dispatched_at is not None and c.escalated_at is None for c in cases),
        "escalated": sum(c.escalated_at is not None for c in cases),
        "pending": sum(c.dispatched_at is None and c.status not in dropped for c in cases),
        "closed": sum(c.status == "closed" for c in cases),
        "deferred": sum(c.status == "deferred" for c in cases),
        "due": sum(c.dispatched_at is not None and c.status not in dropped | {"deferred"}
                   and (c.status == "closed" or (c.due_at is not None and c.due_at <= as_of)) for c in cases),
        "closed_on_time": sum(c.status == "closed" and bool(c.closed_on_time) for c in cases),
        "handled": sum(c.handled_at is not None for c in cases),
        "reworked": sum(c.rework_count > 0 for c in cases),
        "overdue": sum(c.overdue for c in cases),
    }


def _counts(f: Figures) -> dict[str, int]:
    return {k: getattr(f, k) for k in (
        "reported", "rejected", "collected", "registered", "dispatched", "escalated", "pending", "closed",
        "deferred", "due", "closed_on_time", "handled", "reworked", "overdue")}


def _random_walk(work: Casework, rng: random.Random, case_id: str, now: datetime, router: GridRouter) -> None:
    for _ in range(rng.randint(0, 12)):
        case = work.book.get(case_id)
        # Reassigning (dispatched -> dispatched) goes nowhere: the walk keeps to steps that change the status.
        actions = [a for a in allowed_actions(case.status, Role.ADMIN)
                   if transition(case.status, a).target != case.status
                   and (a != Action.ESCALATE or (case.assignee_grid and router.parent(case.assignee_grid)))]
        if not actions:
            return
        # Favour moving forward so many cases get far; defer and invalidate stay occasional.
        weights = [0.3 if a in (Action.DEFER, Action.INVALIDATE) else 3.0 for a in actions]
        action = rng.choices(actions, weights)[0]
        now += timedelta(hours=rng.choice([1, 5, 30, 100]))
        target = Target(department="urban_management") if rng.random() < 0.3 else Target(grid=case.assignee_grid)
        work.apply(case_id, action, ADMIN, note="n", reason=rng.choice(["false_alarm", "duplicate"]),
                   target=target, photo_path="feedback/p.jpg", now=now)


def test_collected_is_dispatched_plus_escalated_plus_pending_in_every_subtree(
    work: Casework, service: CaseService, router: GridRouter, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    leaves = [(34.771 + 0.0075 * j + 0.001, 113.661 + 0.015 * i + 0.001) for i in range(4) for j in range(4)]
    ids = []
    for n in range(48):
        lat, lon = leaves[n % 16]
        at = NOV_START + timedelta(hours=9 + n * 7)
        # Cases 3 m apart would merge into one; keep them distinct by category and a few metres' spread.
        ids.append(_case(service, at, lat + (n // 16) * 0.001, lon, category=["0501", "0503", "0507"][n % 3]))
    for n, case_id in enumerate(ids):
        _random_walk(work, rng, case_id, NOV_START + timedelta(hours=10 + n * 7), router)
    # A few merges after the fact: a merged case is a rejected duplicate, whatever it had reached.
    open_ids = [c.id for c in work.book.queue(CaseFilter(open_only=True, limit=1000))]
    CaseService(repo.engine, router).merge(open_ids[0], open_ids[1:3], OPERATOR, "duplicates")

    as_of = bj("2026-12-20 12:00")
    figures = FigureBook(repo.engine, router)
    everything = work.book.queue(CaseFilter(limit=1000), now=as_of)
    statuses = {c.status for c in everything}
    assert len(statuses) >= 8, statuses  # the walk really covered the workflow
    for code in [None, *router.codes()]:
        f = figures.figures(code, NOV_START, bj("2027-01-01 00:00"), as_of)
        assert f.collected == f.dispatched + f.escalated + f.pending, code
        mine = [c for c in everything if code is None or code in (c.grid_code, c.community_code, c.office_code)]
        assert _counts(f) == _expected(mine, as_of), code
    total = figures.figures(None, NOV_START, bj("2027-01-01 00:00"), as_of)
    assert total.reported == 48 and total.escalated > 0 and total.closed > 0 and total.rejected > 0
    for level in (1, 2, 3):  # one grouped query gives what the subtree queries give
        grouped = figures.figures_by_grid(level, NOV_START, bj("2027-01-01 00:00"), as_of)
        one_by_one = [figures.figures(code, NOV_START, bj("2027-01-01 00:00"), as_of) for code in router.codes(level)]
        assert grouped == one_by_one
        monkeypatch.setattr(figures_module, "_IN_LIST_MAX", 0)  # the plain GROUP BY a city's 13,869 grids get
        assert figures.figures_by_grid(level, NOV_START, bj("2027-01-01 00:00"), as_of) == one_by_one
        monkeypatch.undo()
    some = router.codes(3)[3:5]
    assert [f.grid_code for f in figures.figures_by_grid(3, NOV_START, NOV_END, as_of, codes=some)] == some


def test_figures_of_a_small_month_by_hand(work: Casework, service: CaseService, router: GridRouter,
                                          repo: Repository) -> None:
    t = bj("2026-11-02 09:00")  # Monday
    false_alarm = _case(service, t, category="0501")
    work.reject(false_alarm, OPERATOR, "false_alarm", now=t)
    waiting = _case(service, t, category="0502")
    work.verify(waiting, OPERATOR, now=t)
    work.register(waiting, OPERATOR, now=t)
    on_time, late, escalated, deferred = (_case(service, t, category=c) for c in ("0503", "0504", "0507", "0599"))
    for case_id in (on_time, late, escalated, deferred):
        work.verify(case_id, OPERATOR, now=t)
        work.register(case_id, OPERATOR, now=t)
        work.dispatch(case_id, OPERATOR, Target(grid=GRID), now=t)  # due at the end of Monday 9 November
        work.start(case_id, STAFF, now=t + timedelta(hours=1))
    for case_id, closed_at in ((on_time, t + timedelta(days=2)), (late, t + timedelta(days=10))):
        work.handle(case_id, STAFF, "done", "feedback/a.jpg", now=closed_at)
        work.check(case_id, OPERATOR, now=closed_at)
        if case_id == late:
            work.rework(case_id, OPERATOR, "not done", now=closed_at)
            work.dispatch(case_id, OPERATOR, Target(grid=GRID), now=closed_at)
            work.start(case_id, STAFF, now=closed_at)
            work.handle(case_id, STAFF, "done now", "feedback/b.jpg", now=closed_at)
            work.check(case_id, OPERATOR, now=closed_at)
        work.close(case_id, SUPERVISOR, now=closed_at)
    work.escalate(escalated, STAFF, "beyond us", now=t + timedelta(hours=2))  # parent due end of Wed 11 Nov
    work.defer(deferred, SUPERVISOR, "after the rain", now=t + timedelta(hours=2))
    elsewhere = _case(service, t, lat=34.7710, lon=113.7190)  # another office: not in GRID's subtree
    before = _case(service, bj("2026-10-31 23:00"), category="0599")  # reported in October

    as_of = bj("2026-11-20 12:00")
    f = FigureBook(repo.engine, router).figures(GRID, NOV_START, NOV_END, as_of)
    assert _counts(f) == {
        "reported": 6, "rejected": 1, "collected": 5, "registered": 5, "dispatched": 3, "escalated": 1,
        "pending": 1, "closed": 2, "deferred": 1, "due": 3, "closed_on_time": 1, "handled": 2, "reworked": 1,
        "overdue": 1,
    }
    assert (f.closure_rate, f.on_time_closure_rate, f.rework_rate) == (2 / 3, 1 / 3, 1 / 2)
    everything = FigureBook(repo.engine, router).figures(None, NOV_START, NOV_END, as_of)
    assert everything.reported == 7 and everything.pending == 2
    assert {elsewhere, before}  # reported outside the subtree / the period
    with pytest.raises(ValueError, match="is not after its start"):
        FigureBook(repo.engine, router).figures(None, NOV_END, NOV_START)

    # The month's assessment of that grid, by the default rules.
    [row] = [s for s in Assessor(repo.engine, router).assess_month(2026, 11, online_ratio={GRID: 0.725}, as_of=as_of)
             if s.grid_code == GRID]
    assert row.parts == {
        "collection": 10.0,  # 5 of a target of 10
        "response": 20.0,  # all four started an hour after dispatch
        "equipment": 5.0,  # halfway between 0.5 and 0.95
        "closure": 13.33, "on_time": 6.67, "rework": 5.0, "overdue_penalty": -2.0,
    }
    assert (row.daily_work, row.equipment, row.results, row.total) == (30.0, 5.0, 23.0, 58.0)


def test_assessment_lists_every_grid_and_its_rules_are_settings(repo: Repository, router: GridRouter) -> None:
    scores = Assessor(repo.engine, router).assess_month(2026, 11)
    assert [s.grid_code for s in scores] == router.codes(3) and len(scores) == 16
    quiet = scores[0]  # nothing happened: nothing found, nothing failed, no camera figure
    assert (quiet.daily_work, quiet.equipment, quiet.results, quiet.total) == (20.0, 10.0, 50.0, 80.0)
    assert not quiet.equipment_measured
    # As a settings file would give them: plain mappings, validated.
    strict = AssessmentRules.model_validate(
        {"results": {"full_when_nothing_due": False}, "equipment": {"unmeasured_points": 0}}
    )
    assert Assessor(repo.engine, router, strict).assess_month(2026, 11)[0].total == 20.0
    with pytest.raises(ValueError, match="results: the sub-rules' points add up to 60, not to its weight 50"):
        AssessmentRules.model_validate({"results": {"closure_points": 30}})
    with pytest.raises(ValueError, match="add up to 110, not to its weight 100"):
        AssessmentRules.model_validate({"equipment": {"weight": 20, "unmeasured_points": 20}})
    assert month_bounds(2026, 12) == (bj("2026-12-01 00:00"), bj("2027-01-01 00:00"))


def test_penalties_never_take_results_below_zero() -> None:
    f = Figures(grid_code=GRID, start=NOV_START, end=NOV_END, as_of=NOV_END, reported=1, rejected=0, collected=1,
                registered=1, dispatched=1, escalated=0, pending=0, closed=0, deferred=0, due=1, closed_on_time=0,
                handled=0, reworked=0, overdue=40)
    parts = score(f, responded=0, dispatched=1, online_ratio=0.2, rules=AssessmentRules())
    assert parts["closure"] + parts["on_time"] + parts["rework"] + parts["overdue_penalty"] == 0
    assert parts["equipment"] == 0 and parts["response"] == 0


def test_export_as_csv_and_xlsx(work: Casework, service: CaseService, router: GridRouter, repo: Repository) -> None:
    _case(service, bj("2026-11-02 09:00"))
    book = FigureBook(repo.engine, router)
    rows = [book.figures(None, NOV_START, NOV_END), *book.figures_by_grid(2, NOV_START, NOV_END)]
    names = {c: router.feature(c).name for c in router.codes()}
    table = figures_table(rows, names)
    data = csv_bytes(table)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese headers
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("网格编码,网格名称,起始时间,截止时间,上报数,不予立案数,采集数")
    assert lines[1].startswith(",全部,2026-11-01T00:00:00+08:00,2026-12-01T00:00:00+08:00,1,0,1")
    assert len(lines) == 1 + 1 + 4
    assert lines[2].split(",")[:2] == ["410105001001", names["410105001001"]]

    scores = Assessor(repo.engine, router).assess_month(2026, 11)
    workbook = load_workbook(io.BytesIO(xlsx_bytes({"指标": table, "2026-11 考核": assessment_table(scores)})))
    assert workbook.sheetnames == ["指标", "2026-11 考核"]
    sheet = workbook["2026-11 考核"]
    assert [c.value for c in sheet[1]][:3] == ["考核月份", "网格编码", "网格名称"]
    assert sheet.max_row == 17 and sheet.cell(2, 2).value == router.codes(3)[0]
    assert [c.value for c in workbook["指标"][2]][4:7] == [1, 0, 1]
    en = figures_table(rows[:1], lang="en")
    assert en.headers[:3] == ["grid code", "grid name", "period start"] and en.rows[0][1] == "all"


def test_exports_escape_text_a_spreadsheet_would_run_as_a_formula(
    work: Casework, service: CaseService, router: GridRouter, repo: Repository
) -> None:
    """Issue 14: a grid name like ``=HYPERLINK(..)`` must reach Excel as text, in CSV and in XLSX (OWASP)."""
    _case(service, bj("2026-11-02 09:00"))
    book = FigureBook(repo.engine, router)
    rows = book.figures_by_grid(2, NOV_START, NOV_END)
    evil = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    names = {f.grid_code: evil[i % len(evil)] for i, f in enumerate(rows) if f.grid_code}
    table = figures_table(rows, names)
    cells = [row[1] for row in csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig")))][1:]
    assert cells == ["'" + names[f.grid_code or ""] for f in rows]
    sheet = load_workbook(io.BytesIO(xlsx_bytes({"figures": table})))["figures"]
    for r in range(2, sheet.max_row + 1):
        cell = sheet.cell(r, 2)
        assert cell.data_type == "s" and str(cell.value).startswith("'"), cell.value  # text, not a formula
    assert sheet.cell(2, 5).value == rows[0].reported  # numbers stay numbers (a negative one too)
