"""Every text of the wall that is not data, in the request's language (catalogue: gridwatch/locales).

The browser-side code (assets/*.js) holds no words of its own: it gets the bundle of :func:`browser_texts`
with the page, so the catalogues are the only place a label is written.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_timedelta, get_timezone_name

from gridwatch import timefmt
from gridwatch.i18n import N_, Translator
from gridwatch.settings import Settings

# The shipped default title is translated; a title an operator configured is shown as written.
DEFAULT_TITLE = "GridWatch 网格指挥中心"

STATE_LABELS = {
    "online": N_("Online"),
    "starting": N_("Starting"),
    "stalled": N_("Stalled"),
    "offline": N_("Offline"),
    "disabled": N_("Disabled"),
}


PRIORITY_LABELS = {1: N_("Urgent"), 2: N_("High"), 3: N_("Normal")}

# The day's figures panel: (key of dashboard.wall_data's figures, label).
FIGURE_LABELS = (
    ("collected", N_("Collected")),
    ("dispatched", N_("Dispatched")),
    ("escalated", N_("Escalated")),
    ("closed", N_("Closed")),
    ("closure_rate", N_("Closure rate")),
    ("overdue_now", N_("Overdue now")),
)


def title(settings: Settings, t: Translator) -> str:
    configured = settings.dashboard.title
    return t.gettext("GridWatch Command Centre") if configured == DEFAULT_TITLE else configured


def state_label(state: str, t: Translator) -> str:
    label = STATE_LABELS.get(state)
    return t.gettext(label) if label else state


def camera_detail(cam: dict[str, Any], t: Translator) -> str:
    """The line under a tile: frame rate when live, otherwise what the operator should know, in words."""
    state = str(cam["state"])
    age = cam.get("last_frame_age_s")
    if state == "online":
        return t.gettext("{fps} fps").format(fps=t.decimal(float(cam["fps"]), 1))
    if state == "starting":
        return t.gettext("Connecting to the camera…")
    if state == "disabled":
        return t.gettext("Switched off in the settings")
    if age is None:
        return t.gettext("No video received")
    ago = format_timedelta(timedelta(seconds=float(age)), threshold=1.1, locale=t.locale)
    return t.gettext("Last frame {ago} ago").format(ago=ago)


def no_cameras(t: Translator) -> str:
    return t.gettext("No cameras")


def clock_text(now: datetime, tz: str, t: Translator) -> str:
    """What the header clock shows before the browser takes over: ``2025-01-29 周三 00:05:08``."""
    local = timefmt.to_local(now, tz)
    weekday = timefmt.format_date(now, t.lang, tz, fmt="EEE")
    return f"{local:%Y-%m-%d} {weekday} {timefmt.format_time(now, t.lang, tz)}"


def zone_name(tz: str, t: Translator) -> str:
    """The clock's zone in words, e.g. 中国时间 / China Time."""
    return str(get_timezone_name(timefmt.zone(tz), width="long", locale=t.locale))


def browser_texts(t: Translator) -> dict[str, str]:
    """The words the clientside callbacks and the push feed show."""
    return {
        "noAlerts": t.gettext("No alerts yet"),
        "noSnapshot": t.gettext("No snapshot"),
        "noGrid": t.gettext("No grid"),
        "confidence": t.gettext("Confidence"),
        "seenClear": t.gettext("Seen clear on site"),  # a camera's pass found the case's place clear
        "connecting": t.gettext("Connecting…"),
        "live": t.gettext("● Live"),
        "lost": t.gettext("Connection lost, reconnecting…"),
        "lostBanner": t.gettext("Connection lost: what is shown may be out of date. Reconnecting…"),
        "priority1": t.gettext(PRIORITY_LABELS[1]),
        "priority2": t.gettext(PRIORITY_LABELS[2]),
        "priority3": t.gettext(PRIORITY_LABELS[3]),
    }


def figure_value(key: str, figures: dict[str, Any], t: Translator) -> str:
    """One number of the day's figures panel as shown: a count, or the closure rate as a percentage."""
    value = figures.get(key)
    if key == "closure_rate":
        return "—" if value is None else t.percent(float(value))
    return t.number(int(value or 0))


def position_text(position: dict[str, Any] | None, t: Translator) -> str:
    """A car's (or fixed camera's) place over its video: ``📍 34.77250, 113.67200``; empty when unknown."""
    if not position:
        return ""
    return f"📍 {float(position['lat']):.5f}, {float(position['lon']):.5f}"


def position_title(position: dict[str, Any] | None, t: Translator) -> str:
    age = (position or {}).get("age_s")
    if age is None:
        return ""
    ago = format_timedelta(timedelta(seconds=float(age)), threshold=1.1, locale=t.locale)
    return t.gettext("GPS fix {ago} ago").format(ago=ago)
