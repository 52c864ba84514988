"""The working-day calendar of mainland China: weekends, official holidays and make-up workdays (调休).

Each year's schedule is a data file (``alerts/data/holidays/YYYY.json``) copied from the State Council's
notice; an admin adds next year's file to ``holidays_dir`` when the notice is published (usually in November)
and it replaces a built-in file of the same year. A year without a file counts Monday to Friday only, with a
warning, unless the calendar is strict.

Times are stored in UTC; working days are counted in Asia/Shanghai. A deadline "n working days after" an
instant is the end (24:00 local time) of the n-th working day after that instant's local date.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "holidays"
DEFAULT_TZ = "Asia/Shanghai"
_MAX_SPAN_DAYS = 3660  # no deadline is ten years away: a guard against a runaway loop on a bad n


class CalendarError(ValueError):
    """A holiday file is invalid, or a year has no schedule in a strict calendar; the message names which."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's official days off (holidays) and weekend days that are worked (make-up workdays)."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    source: str


def _parse_date(raw: object, year: int, where: str) -> date:
    try:
        d = date.fromisoformat(str(raw))
    except ValueError:
        raise CalendarError(f"{where}: {raw!r} is not a YYYY-MM-DD date") from None
    if d.year != year:
        raise CalendarError(f"{where}: {d} is not in {year}")
    return d


def _entries(doc: Mapping[str, object], key: str, origin: str) -> list[object]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise CalendarError(f"{origin}: {key!r} must be a list")
    return value


def parse_schedule(doc: Mapping[str, object], origin: str) -> YearSchedule:
    """A YearSchedule from a holiday file's JSON; CalendarError naming the file and the entry when invalid."""
    year = doc.get("year")
    if not isinstance(year, int) or not 1949 < year < 2200:
        raise CalendarError(f"{origin}: 'year' must be a year number, got {year!r}")
    holidays: dict[date, str] = {}
    for i, h in enumerate(_entries(doc, "holidays", origin)):
        where = f"{origin}: holidays[{i}]"
        if not isinstance(h, Mapping) or not isinstance(h.get("name"), str):
            raise CalendarError(f"{where}: needs 'name', 'from' and 'to'")
        start, end = _parse_date(h.get("from"), year, where), _parse_date(h.get("to", h.get("from")), year, where)
        if end < start:
            raise CalendarError(f"{where}: 'to' {end} is before 'from' {start}")
        day = start
        while day <= end:
            holidays[day] = h["name"]
            day += timedelta(days=1)
    workdays: dict[date, str] = {}
    for i, w in enumerate(_entries(doc, "workdays", origin)):
        where = f"{origin}: workdays[{i}]"
        if not isinstance(w, Mapping):
            raise CalendarError(f"{where}: needs 'date' and 'for'")
        d = _parse_date(w.get("date"), year, where)
        if d in holidays:
            raise CalendarError(f"{where}: {d} is also listed as a holiday ({holidays[d]})")
        if d.weekday() < 5:
            raise CalendarError(f"{where}: {d} is a {d:%A}, already a workday; make-up days fall on weekends")
        workdays[d] = str(w.get("for", ""))
    return YearSchedule(year, holidays, workdays, str(doc.get("source", origin)))


def load_schedule(path: Path) -> YearSchedule:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalendarError(f"cannot read holiday file {path}: {exc}") from None
    if not isinstance(doc, Mapping):
        raise CalendarError(f"{path}: the top level must be a JSON object")
    schedule = parse_schedule(doc, str(path))
    if path.stem.isdigit() and int(path.stem) != schedule.year:
        raise CalendarError(f"{path}: the file is named for {path.stem} but holds year {schedule.year}")
    return schedule


class WorkingCalendar:
    """Answers which local dates are working days and when a deadline of n working days falls."""

    def __init__(self, schedules: Iterable[YearSchedule] = (), tz: str = DEFAULT_TZ, strict: bool = False) -> None:
        self._years = {s.year: s for s in schedules}
        self.tz = ZoneInfo(tz)
        self.strict = strict
        self._warned: set[int] = set()

    @classmethod
    def load(cls, extra_dir: Path | None = None, tz: str = DEFAULT_TZ, strict: bool = False) -> WorkingCalendar:
        """The built-in years, then every YYYY.json in ``extra_dir`` (replacing a built-in year)."""
        schedules = {s.year: s for s in (load_schedule(p) for p in sorted(BUILTIN_DIR.glob("*.json")))}
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise CalendarError(f"holidays folder {extra_dir} does not exist")
            for p in sorted(extra_dir.glob("*.json")):
                s = load_schedule(p)
                schedules[s.year] = s
                log.info("holiday schedule %d from %s", s.year, p)
        return cls(schedules.values(), tz=tz, strict=strict)

    @property
    def years(self) -> list[int]:
        return sorted(self._years)

    def covers(self, year: int) -> bool:
        return year in self._years

    def _schedule(self, year: int) -> YearSchedule | None:
        s = self._years.get(year)
        if s is None:
            if self.strict:
                raise CalendarError(
                    f"no holiday schedule for {year}: add {year}.json to the holidays folder "
                    f"(known years: {', '.join(map(str, self.years)) or 'none'})"
                )
            if year not in self._warned:
                self._warned.add(year)
                log.warning("no holiday schedule for %d: counting Monday to Friday only until %d.json is added",
                            year, year)
        return s

    def is_working_day(self, day: date) -> bool:
        s = self._schedule(day.year)
        if s is not None:
            if day in s.holidays:
                return False
            if day in s.workdays:
                return True
        return day.weekday() < 5

    def day_name(self, day: date) -> str | None:
        """The holiday a day belongs to, or the holiday a make-up workday is for; None for an ordinary day."""
        s = self._years.get(day.year)
        if s is None:
            return None
        return s.holidays.get(day) or s.workdays.get(day)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself never counts); n = 0 gives ``start``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = start
        counted = 0
        for _ in range(_MAX_SPAN_DAYS):
            if counted == n:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        raise CalendarError(f"no {n} working days within {_MAX_SPAN_DAYS} days after {start}")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many of a deadline's days have been used by ``end``."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def local_date(self, instant: datetime) -> date:
        if instant.tzinfo is None:
            raise ValueError(f"naive datetime {instant.isoformat()} refused: pass a timezone-aware time")
        return instant.astimezone(self.tz).date()

    def deadline(self, start: datetime, n: int) -> datetime:
        """UTC end of the n-th working day after ``start``'s local date (24:00 there, 16:00 UTC in Beijing)."""
        last = self.add_working_days(self.local_date(start), n)
        return datetime.combine(last + timedelta(days=1), time(0), self.tz).astimezone(UTC)
