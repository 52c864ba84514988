"""GPS telemetry from patrol vehicles: validate the fixes a car sends and store the good ones (ingest.gps).

* What a vehicle sends and how each fix is checked (WGS-84 ranges, not the (0, 0) "no fix" placeholder, a
  timezone-aware time, unknown fields refused) is the car<->centre protocol: ``gridwatch.protocol.parse_fix``.
* ``TelemetryIngest.submit(vehicle_id, payload)``: also refuses fixes timed too far in the future, older
  than the kept track, or faster than any car; every refusal names the field and the reason and is counted.
  One bad fix never stops the good ones of the same batch, or of the next message. Shared by the HTTP
  (``dashboard.api.telemetry``) and websocket (``dashboard.telemetry_ws``) receivers.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gridwatch.protocol import ProtocolError, Rejected, TelemetryAnswer, batch_items, parse_fix
from gridwatch.settings import IngestSettings
from gridwatch.types import GpsFix
from ingest.gps import TelemetryError, TelemetryStore, check_vehicle_id

log = logging.getLogger(__name__)


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
        try:
            fix = parse_fix(raw).to_fix()
        except ProtocolError as exc:
            raise TelemetryError(str(exc)) from None
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

    def submit(self, vehicle_id: str, payload: object) -> TelemetryAnswer:
        """A fix (JSON object) or a list of them; stores the good ones. StoreUnavailable if Redis is down."""
        try:
            check_vehicle_id(vehicle_id)
            items = batch_items(payload)
        except (TelemetryError, ProtocolError) as exc:
            self._refused(1)
            raise TelemetryError(str(exc)) from None
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
        return TelemetryAnswer(len(good), tuple(bad))

    def _refused(self, n: int, bad_json: bool = False) -> None:
        with self._lock:
            self.counters.rejected += n
            self.counters.bad_json += int(bad_json)
        self.store.count_rejected(n)

    def submit_text(self, vehicle_id: str, text: str | bytes) -> TelemetryAnswer:
        """Like ``submit`` for a raw JSON body; bad JSON is a TelemetryError (counted)."""
        try:
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            self._refused(1, bad_json=True)
            raise TelemetryError(f"invalid JSON: {exc}") from None
        return self.submit(vehicle_id, payload)
