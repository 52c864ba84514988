"""NMEA 0183 from a GPS receiver: $--RMC and $--GGA sentences to ``GpsFix``; everything else skipped and counted.

A receiver on a car's serial port emits a mix of sentences, line noise after a loose connector, and "no fix"
sentences while it has no satellites (RMC status ``V``, GGA quality ``0``, empty fields). Only RMC (position,
speed, course, date) and GGA (position, time of day) give positions; any talker (GP, GN, GL, GA, GB, BD) is
taken. The checksum is required: a line without a valid one is garbage. One epoch usually yields both an RMC
and a GGA; the second one of the same time is merged (skipped), so each instant gives one fix.
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from gridwatch.types import GpsFix

log = logging.getLogger(__name__)

KNOT_MPS = 0.514444
RESET_WINDOW = timedelta(seconds=60)  # further back than this: the receiver restarted with another clock
_SENTENCE = re.compile(r"^\$([A-Z]{2})([A-Z]{3}),(.*)\*([0-9A-Fa-f]{2})$")
_TALKERS = frozenset({"GP", "GN", "GL", "GA", "GB", "BD", "GQ"})


class NmeaError(ValueError):
    """A sentence that cannot be read (bad checksum, missing or malformed field); the message says which."""


@dataclass
class NmeaStats:
    """Counters a crew or an engineer reads in the agent's health to see whether the receiver is healthy."""

    sentences: int = 0  # lines seen
    fixes: int = 0  # positions produced
    no_fix: int = 0  # RMC/GGA saying the receiver has no position
    garbage: int = 0  # not NMEA, bad checksum, malformed fields
    ignored: int = 0  # valid NMEA of other types (GSV, GSA, VTG ...)
    merged: int = 0  # a second sentence for an instant that already gave a fix

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def checksum(body: str) -> str:
    """The two-hex-digit XOR of the characters between ``$`` and ``*``."""
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"{value:02X}"


def sentence(body: str) -> str:
    """``GPRMC,...`` -> ``$GPRMC,...*hh`` (used by tests and simulators)."""
    return f"${body}*{checksum(body)}"


def _coord(value: str, hemi: str, degree_digits: int, what: str) -> float:
    if not value or not hemi:
        raise NmeaError(f"{what} is empty")
    try:
        degrees = int(value[:degree_digits])
        minutes = float(value[degree_digits:])
    except ValueError:
        raise NmeaError(f"{what} {value!r} is not ddmm.mmmm") from None
    if minutes >= 60:
        raise NmeaError(f"{what} {value!r} has {minutes} minutes")
    result = degrees + minutes / 60
    if hemi in ("S", "W"):
        result = -result
    elif hemi not in ("N", "E"):
        raise NmeaError(f"{what} hemisphere {hemi!r} is not N/S/E/W")
    return result


def _time_of_day(value: str) -> time:
    try:
        hh, mm, ss = int(value[0:2]), int(value[2:4]), float(value[4:])
        return time(hh, mm, int(ss), int(round((ss % 1) * 1e6)) % 1_000_000, tzinfo=UTC)
    except (ValueError, IndexError):
        raise NmeaError(f"time {value!r} is not hhmmss.ss") from None


def _date(value: str) -> date:
    try:
        return date(2000 + int(value[4:6]), int(value[2:4]), int(value[0:2]))
    except (ValueError, IndexError):
        raise NmeaError(f"date {value!r} is not ddmmyy") from None


def _opt_float(value: str, what: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise NmeaError(f"{what} {value!r} is not a number") from None


class NmeaParser:
    """``feed(line) -> GpsFix | None``; the counters in ``stats`` say what happened to every line.

    ``today`` gives the UTC date for GGA sentences (they carry only the time of day) until an RMC has told
    the receiver's own date.
    """

    def __init__(self, today: datetime | None = None) -> None:
        self.stats = NmeaStats()
        self._date: date | None = None
        self._today = today
        self._last: datetime | None = None

    def feed(self, line: str | bytes) -> GpsFix | None:
        if isinstance(line, bytes):
            line = line.decode("ascii", errors="replace")
        line = line.strip()
        if not line:
            return None
        self.stats.sentences += 1
        try:
            fix = self._parse(line)
        except NmeaError as exc:
            self.stats.garbage += 1
            log.debug("NMEA sentence skipped (%s): %.80r", exc, line)
            return None
        if fix is None:
            return None
        if self._last is not None and self._last - RESET_WINDOW < fix.time <= self._last:
            self.stats.merged += 1  # the same instant again (RMC + GGA), or a sentence arriving late
            return None
        self._last = fix.time
        self.stats.fixes += 1
        return fix

    def _parse(self, line: str) -> GpsFix | None:
        m = _SENTENCE.match(line)
        if m is None:
            raise NmeaError("not an NMEA sentence with a checksum")
        talker, kind, fields_text, given = m.groups()
        body = line[1:line.rindex("*")]
        if checksum(body) != given.upper():
            raise NmeaError(f"checksum {given} does not match {checksum(body)}")
        if talker not in _TALKERS or kind not in ("RMC", "GGA"):
            self.stats.ignored += 1
            return None
        fields = fields_text.split(",")
        return self._rmc(fields) if kind == "RMC" else self._gga(fields)

    def _no_fix(self) -> None:
        self.stats.no_fix += 1

    def _rmc(self, f: list[str]) -> GpsFix | None:
        if len(f) < 9:
            raise NmeaError(f"RMC has {len(f)} fields, at least 9 expected")
        day = _date(f[8]) if f[8] else None
        if day is not None:
            self._date = day
        mode = f[11] if len(f) > 11 else ""
        if f[1] != "A" or mode == "N" or not f[2] or not f[4] or day is None:
            self._no_fix()
            return None
        lat, lon = _coord(f[2], f[3], 2, "latitude"), _coord(f[4], f[5], 3, "longitude")
        knots = _opt_float(f[6], "speed")
        course = _opt_float(f[7], "course")
        return self._fix(lat, lon, datetime.combine(day, _time_of_day(f[0])),
                         heading=None if course is None else course % 360,
                         speed=None if knots is None else knots * KNOT_MPS)

    def _gga(self, f: list[str]) -> GpsFix | None:
        if len(f) < 6:
            raise NmeaError(f"GGA has {len(f)} fields, at least 6 expected")
        if f[5] in ("", "0") or not f[1] or not f[3]:
            self._no_fix()
            return None
        lat, lon = _coord(f[1], f[2], 2, "latitude"), _coord(f[3], f[4], 3, "longitude")
        tod = _time_of_day(f[0])
        now = self._today or datetime.now(UTC)
        day = self._date or now.date()
        when = datetime.combine(day, tod)
        if self._date is None and when - now > timedelta(hours=12):
            when -= timedelta(days=1)  # a fix from just before midnight read just after it
        return self._fix(lat, lon, when, heading=None, speed=None)

    def _fix(self, lat: float, lon: float, when: datetime, heading: float | None, speed: float | None) -> GpsFix | None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise NmeaError(f"position ({lat:.5f}, {lon:.5f}) is outside WGS-84 ranges")
        if lat == 0 and lon == 0:
            self._no_fix()  # some receivers print zeros instead of empty fields while searching
            return None
        return GpsFix(lat=lat, lon=lon, time=when, heading=heading, speed=speed)
