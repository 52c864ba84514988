"""Every text of the dashboard's pages that is not data, in the request's language (catalogue: gridwatch/locales):
the wall's labels and the words that name workflow values (statuses, actions, roles) on every page.

The browser-side code (assets/*.js) holds no words of its own: it gets the bundle of :func:`browser_texts`
with the page, so the catalogues are the only place a label is written.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_timedelta, get_timezone_name

from alerts.workflow import Action, Role, Status
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


# --- workflow values (the desk, replay, staff and admin pages) ---

STATUS_LABELS: dict[str, str] = {
    Status.REPORTED: N_("Reported"),
    Status.VERIFIED: N_("Verified"),
    Status.REJECTED: N_("Rejected"),
    Status.REGISTERED: N_("Registered"),
    Status.DISPATCHED: N_("Dispatched"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.HANDLED: N_("Handled"),
    Status.CHECKED: N_("Checked"),
    Status.CLOSED: N_("Closed"),
    Status.REWORK: N_("Rework"),
    Status.ESCALATED: N_("Escalated"),
    Status.DEFERRED: N_("Deferred"),
    Status.INVALID: N_("Invalid"),
}

ACTION_LABELS: dict[str, str] = {
    Action.VERIFY: N_("Verify"),
    Action.REJECT: N_("Reject"),
    Action.REGISTER: N_("Register"),
    Action.DISPATCH: N_("Dispatch"),
    Action.START: N_("Accept"),
    Action.HANDLE: N_("Report handled"),
    Action.CHECK: N_("Check"),
    Action.CLOSE: N_("Close"),
    Action.REWORK: N_("Send back for rework"),
    Action.ESCALATE: N_("Escalate"),
    Action.DEFER: N_("Defer"),
    Action.RESUME: N_("Resume"),
    Action.INVALIDATE: N_("Invalidate"),
    "report": N_("Reported"),
    "merge": N_("Merged"),
    "split": N_("Split"),
    "query": N_("Query filed"),
    "answer": N_("Query answered"),
    "possibly_resolved": N_("Possibly resolved"),
}

ROLE_LABELS: dict[str, str] = {
    Role.OPERATOR: N_("Operator"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.GRID_STAFF: N_("Grid staff"),
    Role.DEPARTMENT: N_("Department"),
    Role.ADMIN: N_("Administrator"),
    Role.SYSTEM: N_("GridWatch"),
}


def status_label(status: str, t: Translator) -> str:
    label = STATUS_LABELS.get(status)
    return t.gettext(label) if label else status


def action_label(action: str, t: Translator) -> str:
    label = ACTION_LABELS.get(action)
    return t.gettext(label) if label else action


def role_label(role: str, t: Translator) -> str:
    label = ROLE_LABELS.get(role)
    return t.gettext(label) if label else role


def age_text(then: datetime, now: datetime, t: Translator) -> str:
    """How long ago ``then`` was at ``now``, in words: ``3 minutes ago``."""
    return t.gettext("{ago} ago").format(
        ago=format_timedelta(max(timedelta(0), now - then), threshold=1.1, locale=t.locale))


def when(at: datetime | None, tz: str) -> str:
    """``2026-11-25 08:03:07`` in the city's zone; empty for no time."""
    if at is None:
        return ""
    return f"{timefmt.to_local(at, tz):%Y-%m-%d %H:%M:%S}"
