"""Times are stored and sent in UTC; people see them in the city's zone (settings.locale.timezone).

Every conversion for display goes through here, so a naive datetime (no zone) is refused loudly instead of
being silently read as the server's local time.
"""
from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates as babel_dates

from gridwatch.i18n import babel_locale

DEFAULT_TIMEZONE = "Asia/Shanghai"


class TimezoneError(ValueError):
    """An unknown IANA zone name, or a naive datetime where an aware one is required."""


@functools.cache
def zone(name: str = DEFAULT_TIMEZONE) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimezoneError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from None


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise TimezoneError(f"datetime {dt.isoformat()} has no time zone; GridWatch keeps times in UTC")
    return dt


def _zone(tz: str | tzinfo) -> tzinfo:
    return zone(tz) if isinstance(tz, str) else tz


def to_utc(dt: datetime) -> datetime:
    return _aware(dt).astimezone(UTC)


def to_local(dt: datetime, tz: str | tzinfo = DEFAULT_TIMEZONE) -> datetime:
    return _aware(dt).astimezone(_zone(tz))


def iso_utc(dt: datetime) -> str:
    """``2025-01-28T16:05:00+00:00``: the stored, machine-readable time."""
    return to_utc(dt).isoformat()


def iso_local(dt: datetime, tz: str | tzinfo = DEFAULT_TIMEZONE) -> str:
    """``2025-01-29T00:05:00+08:00``: the same instant as the city's clock shows it, offset included."""
    return to_local(dt, tz).isoformat()


def local_day(dt: datetime, tz: str | tzinfo = DEFAULT_TIMEZONE) -> date:
    """The calendar day in the city (an alert at 17:00 UTC belongs to the next day in Zhengzhou)."""
    return to_local(dt, tz).date()


def local_midnight(now: datetime, tz: str | tzinfo = DEFAULT_TIMEZONE) -> datetime:
    """Start of ``now``'s day in the city, as an aware datetime in that zone."""
    local = to_local(now, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def local_day_bounds(now: datetime, tz: str | tzinfo = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """[start, end) of ``now``'s day in the city, in UTC (what a database query compares with)."""
    start = local_midnight(now, tz)
    # Add a calendar day in local terms, so a zone with daylight saving still gets the next midnight.
    end = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=start.tzinfo)
    return start.astimezone(UTC), end.astimezone(UTC)


def format_datetime(dt: datetime, lang: str, tz: str | tzinfo = DEFAULT_TIMEZONE, fmt: str = "medium") -> str:
    """Date and time for people, in the city's zone and the language's style (CLDR via Babel):
    zh_CN ``2025年1月29日 00:05:00``, en ``Jan 29, 2025, 12:05:00 AM``."""
    return babel_dates.format_datetime(_aware(dt), fmt, tzinfo=_zone(tz), locale=babel_locale(lang))


def format_time(dt: datetime, lang: str, tz: str | tzinfo = DEFAULT_TIMEZONE, fmt: str = "HH:mm:ss") -> str:
    """The clock time in the city's zone; 24-hour by default, as control rooms read it in both languages."""
    return babel_dates.format_time(_aware(dt), fmt, tzinfo=_zone(tz), locale=babel_locale(lang))


def format_date(dt: datetime, lang: str, tz: str | tzinfo = DEFAULT_TIMEZONE, fmt: str = "full") -> str:
    """The city's calendar date of ``dt``: zh_CN ``2025年1月29日星期三``, en ``Wednesday, January 29, 2025``."""
    return babel_dates.format_date(local_day(dt, tz), fmt, locale=babel_locale(lang))
