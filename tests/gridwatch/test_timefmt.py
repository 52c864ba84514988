"""Times: stored in UTC, shown in the city's zone (Asia/Shanghai), formatted for the language."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gridwatch import timefmt

# 2025-01-28 16:05 UTC is 00:05 on Wednesday 29 January (Spring Festival eve) in Zhengzhou.
AT = datetime(2025, 1, 28, 16, 5, 0, tzinfo=UTC)


def test_iso_times_utc_and_local() -> None:
    assert timefmt.iso_utc(AT) == "2025-01-28T16:05:00+00:00"
    assert timefmt.iso_local(AT) == "2025-01-29T00:05:00+08:00"
    assert timefmt.iso_utc(AT.astimezone(timezone(timedelta(hours=-5)))) == "2025-01-28T16:05:00+00:00"


def test_the_day_is_the_citys_day() -> None:
    assert timefmt.local_day(AT).isoformat() == "2025-01-29"
    start, end = timefmt.local_day_bounds(AT)
    assert start == datetime(2025, 1, 28, 16, 0, tzinfo=UTC) and end == datetime(2025, 1, 29, 16, 0, tzinfo=UTC)
    assert timefmt.local_midnight(AT).isoformat() == "2025-01-29T00:00:00+08:00"


def test_days_with_a_clock_change_still_end_at_the_next_midnight() -> None:
    # Europe/Berlin springs forward on 2025-03-30: that day has 23 hours.
    start, end = timefmt.local_day_bounds(datetime(2025, 3, 30, 12, 0, tzinfo=UTC), "Europe/Berlin")
    assert end - start == timedelta(hours=23)


def test_formatted_for_people_in_each_language() -> None:
    assert timefmt.format_datetime(AT, "zh_CN") == "2025年1月29日 00:05:00"
    assert timefmt.format_date(AT, "zh_CN") == "2025年1月29日星期三"
    assert timefmt.format_date(AT, "en") == "Wednesday, January 29, 2025"
    assert timefmt.format_time(AT, "en") == "00:05:00"
    assert timefmt.format_date(AT, "zh_CN", fmt="EEE") == "周三"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(timefmt.TimezoneError, match="has no time zone"):
        timefmt.iso_local(datetime(2025, 1, 28, 16, 5))


def test_an_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(timefmt.TimezoneError, match="unknown time zone 'Asia/Zhengzhou'"):
        timefmt.zone("Asia/Zhengzhou")


def test_the_zone_and_language_are_settings_with_china_defaults() -> None:
    from gridwatch.settings import SettingsError, load_settings

    assert load_settings(None).locale.timezone == "Asia/Shanghai"
    assert load_settings(None).locale.language == "zh_CN"
    with pytest.raises(SettingsError, match=r"locale.timezone: .*unknown time zone 'Mars/Base'"):
        load_settings(None, locale={"timezone": "Mars/Base"})
    with pytest.raises(SettingsError, match=r"locale.language"):
        load_settings(None, locale={"language": "fr"})
