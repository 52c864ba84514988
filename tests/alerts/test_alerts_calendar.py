"""The working-day calendar: official holidays and make-up workdays as published, deadlines across them."""
from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from alerts.calendar import CalendarError, WorkingCalendar


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.load()


def _days(text: str) -> list[date]:
    return [date.fromisoformat(d) for d in text.split()]


def test_the_2026_schedule_is_the_state_councils(cal: WorkingCalendar) -> None:
    off = _days("2026-01-01 2026-01-02 2026-01-03 2026-02-15 2026-02-19 2026-02-23 2026-04-06 2026-05-01 "
                "2026-05-05 2026-06-19 2026-09-25 2026-10-01 2026-10-07")
    worked_weekends = _days("2026-01-04 2026-02-14 2026-02-28 2026-05-09 2026-09-20 2026-10-10")
    assert not any(cal.is_working_day(d) for d in off)
    assert all(cal.is_working_day(d) and d.weekday() >= 5 for d in worked_weekends)
    assert cal.day_name(date(2026, 2, 14)) == "春节" and cal.day_name(date(2026, 10, 3)) == "国庆节"
    assert cal.is_working_day(date(2026, 2, 24))  # back to work after the 9-day Spring Festival
    assert not cal.is_working_day(date(2026, 2, 22))  # a Sunday inside the holiday
    holidays_2026 = [d for d in (date.fromordinal(o) for o in range(date(2026, 1, 1).toordinal(),
                                                                     date(2027, 1, 1).toordinal()))
                     if cal.day_name(d) and not cal.is_working_day(d)]
    assert len(holidays_2026) == 3 + 9 + 3 + 5 + 3 + 3 + 7


def test_the_2025_schedule_is_the_state_councils(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2025, 1, 28))  # 除夕 became a holiday in 2025
    assert cal.is_working_day(date(2025, 1, 26)) and cal.is_working_day(date(2025, 2, 8))
    assert not cal.is_working_day(date(2025, 10, 8))  # National Day and Mid-Autumn together: 8 days
    assert cal.is_working_day(date(2025, 10, 11))


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-11-20", 1, "2026-11-23"),  # Friday + 1 = Monday
        ("2026-11-21", 1, "2026-11-23"),  # from a Saturday, Monday is the first working day
        ("2026-04-02", 2, "2026-04-07"),  # Friday, then Qingming (Sat-Mon), then Tuesday
        ("2026-02-13", 1, "2026-02-14"),  # the make-up Saturday before Spring Festival is a working day
        ("2026-02-14", 1, "2026-02-24"),  # then nine days off
        ("2026-02-27", 1, "2026-02-28"),  # and the make-up Saturday after it
        ("2026-09-30", 3, "2026-10-10"),  # National Day: 8th, 9th, then the make-up Saturday 10th
        ("2026-11-24", 0, "2026-11-24"),
    ],
)
def test_add_working_days(cal: WorkingCalendar, start: str, n: int, expected: str) -> None:
    assert cal.add_working_days(date.fromisoformat(start), n) == date.fromisoformat(expected)


def test_deadlines_are_the_end_of_a_beijing_working_day_in_utc(cal: WorkingCalendar) -> None:
    # 15:59 UTC is 23:59 in Beijing on Friday the 20th; 16:00 UTC is already Saturday there.
    assert cal.deadline(datetime(2026, 11, 20, 15, 59, tzinfo=UTC), 1) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert cal.deadline(datetime(2026, 11, 20, 16, 0, tzinfo=UTC), 1) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    # 16:00 UTC on Monday the 23rd is Tuesday 00:00 in Beijing: one working day later ends Wednesday.
    assert cal.deadline(datetime(2026, 11, 23, 16, 0, tzinfo=UTC), 1) == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6
    with pytest.raises(ValueError, match="naive datetime"):
        cal.deadline(datetime(2026, 11, 20, 9, 0), 1)


def test_a_year_without_a_schedule_counts_weekdays_or_is_refused_when_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lenient = WorkingCalendar.load()
    with caplog.at_level(logging.WARNING, logger="alerts.calendar"):
        assert lenient.add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 7)
    assert "no holiday schedule for 2030" in caplog.text
    with pytest.raises(CalendarError, match=r"no holiday schedule for 2030: add 2030\.json"):
        WorkingCalendar.load(strict=True).is_working_day(date(2030, 1, 4))


def _write(folder: Path, year: int, doc: dict[str, object]) -> Path:
    path = folder / f"{year}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_an_admin_adds_a_year_and_a_wrong_file_is_refused_naming_the_entry(tmp_path: Path) -> None:
    _write(tmp_path, 2030, {
        "year": 2030, "source": "test schedule",
        "holidays": [{"name": "元旦", "from": "2030-01-01", "to": "2030-01-01"},
                     {"name": "春节", "from": "2030-02-02", "to": "2030-02-09"}],
        "workdays": [{"date": "2030-02-10", "for": "春节"}],
    })
    cal = WorkingCalendar.load(tmp_path, strict=True)
    assert cal.years == [2025, 2026, 2030]
    assert not cal.is_working_day(date(2030, 2, 4)) and cal.is_working_day(date(2030, 2, 10))

    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad, 2031, {"year": 2031, "workdays": [{"date": "2031-03-05", "for": "?"}]})
    with pytest.raises(CalendarError, match=r"2031\.json: workdays\[0\]: 2031-03-05 is a Wednesday, already a workday"):
        WorkingCalendar.load(bad)
    _write(bad, 2031, {"year": 2031, "holidays": [{"name": "x", "from": "2031-05-03", "to": "2031-05-01"}]})
    with pytest.raises(CalendarError, match=r"holidays\[0\]: 'to' 2031-05-01 is before 'from' 2031-05-03"):
        WorkingCalendar.load(bad)
    _write(bad, 2031, {"year": 2032, "holidays": []})
    with pytest.raises(CalendarError, match="named for 2031 but holds year 2032"):
        WorkingCalendar.load(bad)
