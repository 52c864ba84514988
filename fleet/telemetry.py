"""GPS telemetry from patrol vehicles: validate the fixes a car sends and store the good ones (ingest.gps).

* ``FixIn``: what a vehicle sends, validated (WGS-84 ranges, not the (0, 0) "no fix" placeholder, a
  timezone-aware time; unknown fields are refused so a typo such as ``lng`` is reported, not ignored).
* ``TelemetryIngest.submit(vehicle_id, payload)``: also refuses fixes timed too far in the future, older
  than the kept track, or faster than any car; every refusal names the field and the reason and is counted.
  One bad fix never stops the good ones of the same batch, or of the next message. Shared by the HTTP
  (``fleet.telemetry_api``) and websocket (``fleet.telemetry_ws``) receivers.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridwatch.settings import IngestSettings
from gridwatch.types import GpsFix
from ingest.gps import TelemetryError, TelemetryStore, check_vehicle_id

log = logging.getLogger(__name__)

MAX_BATCH = 1000


class FixIn(BaseModel):
    """One GPS fix as a vehicle sends it (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lat: float = Field(ge=-90, le=90, description="Latitude, WGS-84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS-84 degrees.")
    time: AwareDatetime = Field(description="When the fix was taken: ISO 8601 with offset, or epoch seconds.")
    heading: float | None = Field(default=None, ge=0, le=360, description="Degrees clockwise from north.")
    speed: float | None = Field(default=None, ge=0, description="Metres per second.")
    accuracy: float | None = Field(default=None, ge=0, description="Horizontal accuracy in metres (informative).")

    @model_validator(mode="after")
    def _not_null_island(self) -> FixIn:
        if self.lat == 0 and self.lon == 0:
            raise ValueError("position (0, 0) is a receiver without a fix, not a place a patrol car can be")
        return self

    def to_fix(self) -> GpsFix:
        heading = None if self.heading is None else self.heading % 360
        return GpsFix(lat=self.lat, lon=self.lon, time=self.time.astimezone(UTC), heading=heading, speed=self.speed)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "fix"
        msg = "unknown field (expected lat, lon, time, heading, speed, accuracy)" \
            if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # position in the submitted list (0 for a single fix)
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "error": self.error}


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: int
    rejected: tuple[Rejected, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": [r.to_dict() for r in self.rejected]}


@dataclass
class Counters:
    accepted: int = 0
    rejected: int = 0
    bad_json: int = 0


class TelemetryIngest:
    """Validates what vehicles send and stores the good fixes; shared by the HTTP and websocket receivers."""

    def __init__(self, store: TelemetryStore, settings: IngestSettings, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self.counters = Counters()

    def check(self, raw: object, now: float) -> GpsFix:
        """One fix, validated against the model and the settings' limits; TelemetryError says why not."""
        if not isinstance(raw, dict):
            raise TelemetryError(f"a fix must be a JSON object with lat, lon and time, got {type(raw).__name__}")
        try:
            fix = FixIn.model_validate(raw).to_fix()
        except ValidationError as exc:
            raise TelemetryError(_describe(exc)) from None
        t = fix.time.timestamp()
        s = self.settings
        if t > now + s.telemetry_max_future_seconds:
            raise TelemetryError(f"time: {fix.time.isoformat()} is {t - now:.0f} s in the future "
                                 f"(at most {s.telemetry_max_future_seconds:g} s allowed: check the vehicle's clock)")
        if t < now - s.telemetry_track_seconds:
            raise TelemetryError(f"time: {fix.time.isoformat()} is older than the kept track "
                                 f"({s.telemetry_track_seconds:g} s)")
        if fix.speed is not None and fix.speed > s.telemetry_max_speed_mps:
            raise TelemetryError(f"speed: {fix.speed:g} m/s is impossible for a patrol car "
                                 f"(at most {s.telemetry_max_speed_mps:g} m/s)")
        return fix

    def submit(self, vehicle_id: str, payload: object) -> Outcome:
        """A fix (JSON object) or a list of them; stores the good ones. StoreUnavailable if Redis is down."""
        items = payload if isinstance(payload, list) else [payload]
        try:
            check_vehicle_id(vehicle_id)
            if not items:
                raise TelemetryError("empty list: send at least one fix")
            if len(items) > MAX_BATCH:
                raise TelemetryError(f"{len(items)} fixes in one message; at most {MAX_BATCH}")
        except TelemetryError:
            self._refused(1)
            raise
        now = self._clock()
        good: list[GpsFix] = []
        bad: list[Rejected] = []
        for i, raw in enumerate(items):
            try:
                good.append(self.check(raw, now))
            except TelemetryError as exc:
                bad.append(Rejected(i, str(exc)))
        self.store.add(vehicle_id, good, now)
        if bad:
            self._refused(len(bad))
            log.info("vehicle %s: %d GPS fixes refused, first: %s", vehicle_id, len(bad), bad[0].error)
        with self._lock:
            self.counters.accepted += len(good)
        return Outcome(len(good), tuple(bad))

    def _refused(self, n: int, bad_json: bool = False) -> None:
        with self._lock:
            self.counters.rejected += n
            self.counters.bad_json += int(bad_json)
        self.store.count_rejected(n)

    def submit_text(self, vehicle_id: str, text: str | bytes) -> Outcome:
        """Like ``submit`` for a raw JSON body; bad JSON is a TelemetryError (counted)."""
        try:
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            self._refused(1, bad_json=True)
            raise TelemetryError(f"invalid JSON: {exc}") from None
        return self.submit(vehicle_id, payload)
