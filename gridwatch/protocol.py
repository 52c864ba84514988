"""The car<->centre protocol: what a patrol car (``patrol/``) sends the command centre (``fleet/``, ``dashboard/``).

The one written contract between the two sides: the endpoint paths, the crew status, and the shape of every
message the car sends. Both sides import it from here; neither knows the other's modules.

Command-centre endpoints (JSON bodies, with ``Authorization: Bearer <centre_token>`` when set; 2xx = accepted,
4xx = refused for good with ``{"error": ...}``, 5xx, 401/403 (a token to fix) or no answer = the car retries):

``POST /api/reports`` — a manual report that enters the same case flow as a video alert::

    {"report_id": "9f1c...", "vehicle_id": "zz-a1234", "crew": ["Li Wei"], "shift": "2026-11-24-day",
     "category": "0503", "note": "stall on the pavement", "created_at": "2026-11-24T08:00:00+00:00",
     "lat": 34.78, "lon": 113.68, "position_time": "2026-11-24T07:59:59+00:00",
     "photo": {"filename": "stall.jpg", "content_type": "image/jpeg", "data_base64": "..."}}

  ``report_id`` is the idempotency key: a car that lost the answer sends the same report again. ``lat``,
  ``lon``, ``position_time`` and ``photo`` may be null. ``category`` is a gridwatch.categories code.

``POST /api/vehicles/<vehicle_id>/status`` — the crew's availability::

    {"vehicle_id": "zz-a1234", "status": "paused", "changed_at": "2026-11-24T08:00:00+00:00",
     "crew": ["Li Wei"], "shift": "2026-11-24-day", "lat": 34.78, "lon": 113.68}

``POST /api/telemetry/<vehicle_id>`` — GPS fixes, one object or a list of up to 1000 (``MAX_BATCH``)::

    [{"lat": 34.78, "lon": 113.68, "time": "2026-11-24T08:00:00+00:00", "heading": 90.0, "speed": 8.33}, ...]

  ``heading`` (degrees from north), ``speed`` (m/s) and ``accuracy`` (m, informative) may be left out or null;
  ``time`` needs an offset (or is epoch seconds). The answer names each fix refused by its place in the list:
  ``{"accepted": n, "rejected": [{"index": i, "error": "lat: ..."}]}``.

The car's own HTTP server (``patrol.segments_api``), which the centre asks after a link gap (``patrol.fetch``):
``GET /api/health`` (the agent's health), ``GET /api/segments?camera=&start=&end=`` (the finished segments
overlapping the range: ``{"segments": [{"camera", "start", "end", "bytes", "url"}], "dropped": n}``) and
``GET /api/segments/<camera>/<name>`` (one MP4 segment), the segment routes behind the car's own bearer token.

Each message is a small frozen dataclass: the car builds one and sends ``to_json()``; the centre reads a body
with ``parse_report`` / ``parse_status`` / ``parse_fix`` (and ``batch_items`` for the list), which refuse a bad
message with a ``ProtocolError`` (a ValueError) whose text names the field, exactly as the centre answers it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from gridwatch.categories import CATEGORIES
from gridwatch.types import GpsFix

# The centre's endpoints the car posts to, relative to its ``centre_url``.
REPORTS_PATH = "/api/reports"
STATUS_PATH = "/api/vehicles/{vehicle_id}/status"
TELEMETRY_PATH = "/api/telemetry/{vehicle_id}"
# The car's endpoints the centre asks, relative to the car's segments API.
CAR_HEALTH_PATH = "/api/health"
SEGMENTS_PATH = "/api/segments"

# A car's id (e.g. its plate) as every endpoint takes it, in the path and in the body.
VEHICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
REPORT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
MAX_BATCH = 1000  # fixes in one telemetry message
MAX_CREW = 20
MAX_SHIFT = 100
_VEHICLE_ID = re.compile(VEHICLE_ID_PATTERN)
# Refuse unknown fields (a typo such as ``lng`` is reported, not ignored) and NaN/inf numbers.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
# The two ways pydantic names an unknown field (a model's, a dataclass's).
_UNKNOWN = frozenset({"extra_forbidden", "unexpected_keyword_argument"})
# A nested message that is not an object, worded as the centre has always answered it (when it was a model).
_NOT_AN_OBJECT = "Input should be a valid dictionary or instance of {}"
_WIRE_NAME = {"ReportPhoto": "PhotoIn"}


def status_path(vehicle_id: str) -> str:
    return STATUS_PATH.format(vehicle_id=vehicle_id)


def telemetry_path(vehicle_id: str) -> str:
    return TELEMETRY_PATH.format(vehicle_id=vehicle_id)


def segment_path(camera: str, name: str) -> str:
    """One recorded segment on the car, as its listing names it."""
    return f"{SEGMENTS_PATH}/{camera}/{name}"


# The crew's availability as the car sends it and the centre shows it. (A comment, not a docstring: the API
# document shows an enum's docstring, and it stays as generated.)
class CrewStatus(StrEnum):
    ON_PATROL = "on_patrol"
    PAUSED = "paused"
    OFF_DUTY = "off_duty"


class ProtocolError(ValueError):
    """A message the centre refuses for good; the text names the field and why."""


def _describe(err: ValidationError, whole: str | None, unknown: str) -> str:
    """Every problem as ``field: why``; ``whole`` names a problem of the message as a whole (None: just why)."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or whole
        msg = unknown if e["type"] in _UNKNOWN else e["msg"].removeprefix("Value error, ")
        if e["type"] == "dataclass_type":
            name = str(e.get("ctx", {}).get("class_name", ""))
            msg = _NOT_AN_OBJECT.format(_WIRE_NAME.get(name, name))
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _body(raw: object, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ProtocolError(f"body: a JSON object with {what}")
    return raw


# --- GPS telemetry -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryFix:
    """One GPS fix as a vehicle sends it (JSON)."""  # also the OpenAPI document's description of a fix

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    lat: Annotated[float, Field(ge=-90, le=90, description="Latitude, WGS-84 degrees.")]
    lon: Annotated[float, Field(ge=-180, le=180, description="Longitude, WGS-84 degrees.")]
    time: Annotated[AwareDatetime, Field(description="When the fix was taken: ISO 8601 with offset, or epoch seconds.")]
    heading: Annotated[float | None, Field(ge=0, le=360, description="Degrees clockwise from north.")] = None
    speed: Annotated[float | None, Field(ge=0, description="Metres per second.")] = None
    accuracy: Annotated[float | None, Field(ge=0, description="Horizontal accuracy in metres (informative).")] = None

    @model_validator(mode="after")
    def _not_null_island(self) -> TelemetryFix:
        if self.lat == 0 and self.lon == 0:
            raise ValueError("position (0, 0) is a receiver without a fix, not a place a patrol car can be")
        return self

    @classmethod
    def of(cls, fix: GpsFix) -> TelemetryFix:
        """The car's fix as it sends it: 7 decimals (1 cm), heading in [0, 360) to 0.1 degree, speed to 1 cm/s."""
        return cls(lat=round(fix.lat, 7), lon=round(fix.lon, 7), time=fix.time.astimezone(UTC),
                   heading=None if fix.heading is None else round(fix.heading % 360, 1),
                   speed=None if fix.speed is None else round(fix.speed, 2))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"lat": self.lat, "lon": self.lon, "time": self.time.isoformat(),
                                "heading": self.heading, "speed": self.speed}
        if self.accuracy is not None:
            body["accuracy"] = self.accuracy
        return body

    def to_fix(self) -> GpsFix:
        heading = None if self.heading is None else self.heading % 360
        return GpsFix(lat=self.lat, lon=self.lon, time=self.time.astimezone(UTC), heading=heading, speed=self.speed)


_FIX = TypeAdapter(TelemetryFix)


def parse_fix(raw: object) -> TelemetryFix:
    """One fix of a telemetry message, validated; ProtocolError names the field."""
    if not isinstance(raw, dict):
        raise ProtocolError(f"a fix must be a JSON object with lat, lon and time, got {type(raw).__name__}")
    try:
        return _FIX.validate_python(raw)
    except ValidationError as exc:
        raise ProtocolError(_describe(exc, "fix", "unknown field (expected lat, lon, time, heading, speed, "
                                                  "accuracy)")) from None


def batch_items(payload: object) -> list[object]:
    """A telemetry message's fixes: one object or a list of 1 to ``MAX_BATCH`` (each then ``parse_fix``)."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ProtocolError("empty list: send at least one fix")
    if len(items) > MAX_BATCH:
        raise ProtocolError(f"{len(items)} fixes in one message; at most {MAX_BATCH}")
    return items


@dataclass(frozen=True, slots=True)
class Rejected:
    """A fix the centre refused: its place in the message and why."""

    index: int  # position in the submitted list (0 for a single fix)
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "error": self.error}


@dataclass(frozen=True, slots=True)
class TelemetryAnswer:
    """The centre's answer to a telemetry message: how many fixes it kept, and each one refused."""

    accepted: int
    rejected: tuple[Rejected, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": [r.to_dict() for r in self.rejected]}


def parse_telemetry_answer(body: dict[str, Any]) -> tuple[Rejected, ...]:
    """The refused fixes of the centre's answer (the car's side; entries without an index are skipped)."""
    return tuple(Rejected(int(r["index"]), str(r.get("error", "refused"))) for r in body.get("rejected", [])
                 if isinstance(r, dict) and "index" in r)


# --- Crew status ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """The crew's availability (``POST /api/vehicles/<vehicle_id>/status``)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    vehicle_id: Annotated[str | None, Field(description="The car's id; when given, it must match the path.")] = None
    status: Annotated[CrewStatus, Field(description="on_patrol, paused or off_duty.")]
    changed_at: Annotated[AwareDatetime | None, Field(description="When the crew changed it; unset = now.")] = None
    # A list, not a tuple: the centre's refusal says "List should have at most 20 items" as it always has.
    crew: Annotated[list[str], Field(max_length=MAX_CREW, description="Crew members on board.")] = field(
        default_factory=list)
    shift: Annotated[str, Field(max_length=MAX_SHIFT, description="Shift label.")] = ""
    lat: Annotated[float | None, Field(ge=-90, le=90, description="Where the car was (informative).")] = None
    lon: Annotated[float | None, Field(ge=-180, le=180, description="Where the car was (informative).")] = None

    def to_json(self) -> dict[str, Any]:
        return {"vehicle_id": self.vehicle_id, "status": self.status.value, "changed_at": _iso(self.changed_at),
                "crew": list(self.crew), "shift": self.shift, "lat": self.lat, "lon": self.lon}


_STATUS = TypeAdapter(StatusChange)


def parse_status(raw: object, vehicle_id: str) -> StatusChange:
    """The body of ``POST /api/vehicles/<vehicle_id>/status``; ProtocolError names the field."""
    try:
        body = _STATUS.validate_python(_body(raw, "status and changed_at"))
    except ValidationError as exc:
        raise ProtocolError(_describe(exc, None, "unknown field")) from None
    if body.vehicle_id is not None and body.vehicle_id != vehicle_id:
        raise ProtocolError(f"vehicle_id: the body says {body.vehicle_id!r} but the path {vehicle_id!r}")
    return body


# --- Reports -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPhoto:
    """A report's photo, inlined."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    filename: Annotated[str, Field(max_length=255, description="The file's name on the car (informative).")] = "photo"
    content_type: Annotated[str, Field(max_length=100, description="Its MIME type (informative; sniffed anyway).")] = ""
    data_base64: Annotated[str, Field(description="The image, base64.")]

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "data_base64": self.data_base64}


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A report by hand (``POST /api/reports``): from a patrol car (``vehicle_id`` and ``report_id`` set), or from a
    person (``source`` phone or web)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    report_id: Annotated[str | None, Field(pattern=REPORT_ID_PATTERN, description="Idempotency key.")] = None
    source: Annotated[Literal["patrol", "phone", "web"] | None, Field(
        description="patrol (default when vehicle_id is set), phone or web.")] = None
    vehicle_id: Annotated[str | None, Field(description="The patrol car filing it.")] = None
    crew: Annotated[list[str], Field(max_length=MAX_CREW, description="The car's crew.")] = field(
        default_factory=list)
    shift: Annotated[str, Field(max_length=MAX_SHIFT, description="The car's shift label.")] = ""
    reporter: Annotated[str | None, Field(
        max_length=100, description="Who reported by phone or web when nobody is logged in.")] = None
    category: Annotated[str, Field(description="A gridwatch.categories code, e.g. 0503.")]
    note: Annotated[str, Field(max_length=4000, description="What the reporter says.")] = ""
    created_at: Annotated[AwareDatetime | None, Field(description="When it was filed; unset = now.")] = None
    lat: Annotated[float | None, Field(ge=-90, le=90, description="WGS-84 latitude of the problem.")] = None
    lon: Annotated[float | None, Field(ge=-180, le=180, description="WGS-84 longitude of the problem.")] = None
    position_time: Annotated[AwareDatetime | None, Field(description="When the car's fix was taken.")] = None
    photo: Annotated[ReportPhoto | None, Field(description="A photo of the problem.")] = None

    @model_validator(mode="after")
    def _consistent(self) -> Report:
        if self.category not in CATEGORIES:
            raise ValueError(f"category: unknown issue category {self.category!r}; known: {', '.join(CATEGORIES)}")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat, lon: give both or neither")
        if self.lat == 0 and self.lon == 0:
            raise ValueError("lat, lon: (0, 0) is a receiver without a fix, not a place in the city")
        if self.vehicle_id is not None:
            if not _VEHICLE_ID.match(self.vehicle_id):
                raise ValueError(f"vehicle_id: {self.vehicle_id!r} is not valid (letters, digits, . - _; at most 64)")
            if self.source not in (None, "patrol"):
                raise ValueError(f"source: a report with a vehicle_id comes from a patrol car, not {self.source!r}")
            if self.report_id is None:
                raise ValueError("report_id: a patrol car's report needs its report_id (the idempotency key)")
        elif self.source in (None, "patrol"):
            raise ValueError("source: say phone or web (or give the patrol car's vehicle_id)")
        return self

    @property
    def effective_source(self) -> str:
        return "patrol" if self.vehicle_id is not None else str(self.source)

    def to_json(self) -> dict[str, Any]:
        """The body as a car sends it (``source`` and ``reporter``, a person's, only when set)."""
        body: dict[str, Any] = {
            "report_id": self.report_id, "vehicle_id": self.vehicle_id, "crew": list(self.crew), "shift": self.shift,
            "category": self.category, "note": self.note, "created_at": _iso(self.created_at), "lat": self.lat,
            "lon": self.lon, "position_time": _iso(self.position_time),
            "photo": None if self.photo is None else self.photo.to_json()}
        for name in ("source", "reporter"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        return body


_REPORT = TypeAdapter(Report)


def parse_report(raw: object) -> Report:
    """The body of ``POST /api/reports``; ProtocolError names the field."""
    try:
        return _REPORT.validate_python(_body(raw, "category, note, lat, lon, photo"))
    except ValidationError as exc:
        raise ProtocolError(_describe(exc, None, "unknown field")) from None
