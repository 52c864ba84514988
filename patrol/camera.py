"""One car camera end to end: read it once, record every packet locally, offer every packet to the live publisher.

The camera thread reopens a camera that drops (backoff up to ``MAX_BACKOFF_S``); the recording goes on
whatever the link does, and the publisher reconnects on its own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gridwatch.loop import ThreadPart
from patrol.detect import DetectStream
from patrol.publisher import LivePublisher
from patrol.segments import SegmentRecorder, SegmentStore
from patrol.settings import CameraFeed, PatrolSettings
from patrol.source import CameraSource, SourceError

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    source: str  # masked
    reading: bool
    packets: int
    reopens: int
    last_error: str | None
    live: str
    live_mode: str
    source_kbps: float | None
    live_since: float | None
    live_connects: int
    live_failures: int
    live_dropped: int
    live_error: str | None
    recording: bool
    segments_written: int
    record_errors: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


class CameraPipeline(ThreadPart):
    def __init__(self, feed: CameraFeed, settings: PatrolSettings, store: SegmentStore) -> None:
        super().__init__(f"patrol-cam-{feed.id}")
        self.feed = feed
        live = settings.live_for(feed)
        self.publisher = LivePublisher(feed.id, settings.publish_url(feed), live, settings.relay_transport,
                                       settings.uplink.retry_seconds, settings.uplink.rtsp_timeout_seconds)
        self.recorder = SegmentRecorder(feed.id, store, settings.recording.segment_seconds)
        # The command centre's vision reads this one (its detect_url); None: the main stream only.
        self.detect = DetectStream(feed, settings) if feed.detect_source or feed.detect_encode else None
        # The loop's stop event, shared with the source: it also ends a file's real-time pacing wait.
        self.source = CameraSource(feed, self._stop, settings.uplink.rtsp_timeout_seconds)
        self.packets = 0
        self.reopens = 0
        self.reading = False
        self.last_error: str | None = None

    def start(self) -> CameraPipeline:
        self.publisher.start()
        if self.detect is not None:
            self.detect.start()
        return super().start()

    def stop(self, timeout: float = 10.0) -> bool:
        ended = super().stop(timeout)
        self.recorder.close()
        self.publisher.stop(timeout)
        if self.detect is not None:
            self.detect.stop(timeout)
        return ended

    def _left_busy(self, timeout: float) -> None:
        log.warning("camera %s: reader did not stop within %.0f s", self.feed.id, timeout)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                for p in self.source.packets():
                    if not self.reading:
                        self.reading = True
                        backoff = 1.0
                    self.packets += 1
                    self.recorder.write(p)
                    self.publisher.offer(p)
                    if self.detect is not None:
                        self.detect.offer(p)
            except SourceError as exc:
                self.last_error = str(exc)
                log.warning("%s; reopening in %.0f s", exc, backoff)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("camera %s: reader failed; reopening in %.0f s", self.feed.id, backoff)
            self.reading = False
            self.recorder.close()
            if self._stop.wait(backoff):
                break
            self.reopens += 1
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def health(self) -> CameraHealth:
        pub, rec = self.publisher, self.recorder
        return CameraHealth(
            camera_id=self.feed.id, source=self.source.shown, reading=self.reading, packets=self.packets,
            reopens=self.reopens, last_error=self.last_error, live=pub.state, live_mode=pub.mode,
            source_kbps=None if pub.source_kbps is None else round(pub.source_kbps, 1),
            live_since=pub.live_since, live_connects=pub.connects, live_failures=pub.failures,
            live_dropped=pub.dropped, live_error=pub.last_error, recording=rec.recording,
            segments_written=rec.segments_written, record_errors=rec.write_errors,
        )
