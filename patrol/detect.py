"""A car camera's detection stream, published beside its main stream at ``<publish path>-detect``.

The command centre's vision decodes only a camera's detection stream (``detect_url``, issue 15), so the car sends
one: the camera's own sub-stream as it comes (``detect_source``: its own connection, copied, no CPU), or, for a
camera without one, a stream the car encodes from the main stream's packets (``detect_encode``: the live
publisher's substream mode at ``detect_width``). The main stream's recording and live copy are untouched.
"""
from __future__ import annotations

import logging

from gridwatch.loop import ThreadPart
from patrol.publisher import LivePublisher
from patrol.settings import CameraFeed, PatrolSettings
from patrol.source import CameraSource, SourceError, SourcePacket

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


class DetectStream(ThreadPart):
    """``offer(p)`` with the main stream's packets (used when encoding); ``start()``/``stop()``; ``publisher``."""

    def __init__(self, feed: CameraFeed, settings: PatrolSettings) -> None:
        super().__init__(f"patrol-detect-{feed.id}")
        live = settings.live_for(feed)
        self.feed = feed
        if feed.detect_source is not None:
            live = live.model_copy(update={"mode": "copy"})
            own = feed.model_copy(update={"source": feed.detect_source, "kind": "rtsp"})
            self.source: CameraSource | None = CameraSource(own, self._stop, settings.uplink.rtsp_timeout_seconds)
        else:
            live = live.model_copy(update={"mode": "substream", "width": feed.detect_width})
            self.source = None
        self.publisher = LivePublisher(f"{feed.id}-detect", settings.detect_publish_url(feed), live,
                                       settings.relay_transport, settings.uplink.retry_seconds,
                                       settings.uplink.rtsp_timeout_seconds)

    def start(self) -> DetectStream:
        self.publisher.start()
        if self.source is not None:  # an encoded stream is fed by the camera's thread through offer(): no thread
            super().start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        ended = super().stop(timeout)
        self.publisher.stop(timeout)
        return ended

    def offer(self, p: SourcePacket) -> None:
        """A main-stream packet: encoded into the detection stream unless the camera sends its own."""
        if self.source is None:
            self.publisher.offer(p)

    def _run(self) -> None:
        assert self.source is not None
        backoff = 1.0
        while not self._stop.is_set():
            try:
                for p in self.source.packets():
                    backoff = 1.0
                    self.publisher.offer(p)
            except SourceError as exc:
                log.warning("camera %s detection stream: %s; reopening in %.0f s", self.feed.id, exc, backoff)
            except Exception:  # noqa: BLE001 - the detection stream must never stop the main one
                log.exception("camera %s detection stream failed; reopening in %.0f s", self.feed.id, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(MAX_BACKOFF_S, backoff * 2)
