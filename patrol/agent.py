"""The patrol car's agent: cameras live to the relay and recorded locally, GPS to the command centre, crew actions.

``PatrolAgent(settings).start()`` starts, in order: the local queue, the GPS feed (every fix is queued in
SQLite before anything is sent), the senders (fixes in batches, reports and crew status one by one), one
pipeline per camera (read once -> local segments + live publish), and the car's HTTP server (health,
segments). ``stop()`` stops them in reverse. Nothing here waits on the link: while it is down, video goes to
the segments only and everything else waits in the queue; when it returns, live video resumes at the next
keyframe after at most ``uplink.retry_seconds`` and the queued backlog is sent oldest first.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from gridwatch.lifecycle import Lifecycle
from gridwatch.protocol import REPORTS_PATH, TelemetryFix, status_path, telemetry_path
from gridwatch.types import GpsFix
from patrol import crew
from patrol.camera import CameraPipeline
from patrol.gps import GpsFeed, make_gps_feed
from patrol.segments import SegmentStore
from patrol.segments_api import SegmentsApi
from patrol.settings import PatrolSettings
from patrol.store import CarStore
from patrol.uplink import OutboxSender, one_by_one, telemetry_send

log = logging.getLogger(__name__)

FIX_KIND = "fix"


class AgentError(RuntimeError):
    pass


class PatrolAgent:
    """``PatrolAgent(settings).start()`` ... ``health()`` ... ``stop()``."""

    def __init__(self, settings: PatrolSettings) -> None:
        self.settings = settings
        self.store: CarStore | None = None
        self.segments = SegmentStore(settings.recording.segment_dir, int(settings.recording.disk_cap_mb * 1e6))
        self.gps: GpsFeed | None = None
        self.telemetry: OutboxSender | None = None
        self.reports: OutboxSender | None = None
        self.status_sender: OutboxSender | None = None
        self.cameras: list[CameraPipeline] = []
        self.api: SegmentsApi | None = None
        self.fixes_queued = 0
        self.started_at: float | None = None
        self._life: Lifecycle | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._life is not None

    def start(self) -> PatrolAgent:
        if self._life is not None:
            raise AgentError(f"patrol agent of {self.settings.vehicle_id} already started")
        s = self.settings
        life = Lifecycle()
        try:
            store = self.store = CarStore(s.state_dir)
            life.started("car queue", store.close)
            self.segments.recover()
            self.segments.enforce()
            up = s.uplink
            token = s.centre_token.get_secret_value() if s.centre_token is not None else None
            telemetry_url = s.centre_endpoint(telemetry_path(s.vehicle_id))
            self.telemetry = OutboxSender(store, FIX_KIND,
                                          telemetry_send(telemetry_url, up.http_timeout_seconds, token),
                                          up.batch_max, up.batch_seconds, up.retry_seconds, keep_refused=False).start()
            life.started("GPS uploader", self.telemetry.stop)
            reports_url = s.centre_endpoint(REPORTS_PATH)
            self.reports = OutboxSender(
                store, crew.REPORT_KIND,
                one_by_one(lambda _i: reports_url, crew.report_body, up.http_timeout_seconds, token),
                20, up.batch_seconds, up.retry_seconds).start()
            life.started("report uploader", self.reports.stop)
            status_url = s.centre_endpoint(status_path(s.vehicle_id))
            self.status_sender = OutboxSender(
                store, crew.STATUS_KIND, one_by_one(lambda _i: status_url, lambda i: i.payload,
                                                    up.http_timeout_seconds, token),
                20, up.batch_seconds, up.retry_seconds).start()
            life.started("crew status uploader", self.status_sender.stop)
            self.gps = make_gps_feed(s.gps, self._on_fix)
            if self.gps is not None:
                self.gps.start()
                life.started(f"GPS feed ({s.gps.source})", self.gps.stop)
            for feed in s.cameras:
                if not feed.enabled:
                    continue
                cam = CameraPipeline(feed, s, self.segments).start()
                self.cameras.append(cam)
                life.started(f"camera {feed.id}", cam.stop)
            if s.segments_api.enabled:
                self.api = SegmentsApi(s.segments_api, self.segments, self.health).start()
                life.started("car API", self.api.stop)
        except Exception:
            life.close()
            raise
        self._life = life
        self.started_at = time.time()
        log.info("patrol agent of %s started: %d cameras, GPS %s, command centre %s", s.vehicle_id,
                 len(self.cameras), s.gps.source, s.centre_masked)
        return self

    def stop(self) -> None:
        life, self._life = self._life, None
        if life is not None:
            life.close()
            log.info("patrol agent of %s stopped", self.settings.vehicle_id)

    def _on_fix(self, fix: GpsFix) -> None:
        assert self.store is not None
        payload = TelemetryFix.of(fix).to_json()
        self.store.put(FIX_KIND, payload)
        self.store.set_state(crew.LAST_FIX_KEY, payload)
        with self._lock:
            self.fixes_queued += 1

    def health(self) -> dict[str, Any]:
        """Everything a crew member or an engineer needs to see whether the car is connected and recording."""
        s = self.settings
        store = self.store
        senders = {"telemetry": self.telemetry, "reports": self.reports, "crew_status": self.status_sender}
        uplink: dict[str, Any] = {}
        for name, sender in senders.items():
            if sender is None:
                continue
            uplink[name] = {"link_up": sender.link_up, "pending": sender.pending(), "sent": sender.sent,
                            "refused": sender.refused, "failures": sender.failures, "last_error": sender.last_error}
        gps: dict[str, Any] = {"source": s.gps.source}
        if self.gps is not None:
            last = self.gps.last_fix
            gps.update({"fixes_queued": self.fixes_queued, "errors": self.gps.errors,
                        "last_error": self.gps.last_error, "sentences": self.gps.stats.to_dict(),
                        "last_fix": None if last is None else TelemetryFix.of(last).to_json()})
        seg = self.segments
        return {
            "vehicle_id": s.vehicle_id,
            "crew": list(s.crew),
            "shift": s.shift,
            "running": self.running,
            "started_at": None if self.started_at is None else datetime.fromtimestamp(self.started_at, UTC).isoformat(),
            "crew_status": crew.current_status(store) if store is not None else None,
            "cameras": [c.health().to_dict() for c in self.cameras],
            "gps": gps,
            "uplink": uplink,
            "segments": {"dir": str(seg.root), "bytes": seg.total_bytes(), "cap_bytes": seg.cap_bytes,
                         "dropped": seg.dropped, "dropped_bytes": seg.dropped_bytes, "last_dropped": seg.last_drop},
        }
