"""A car camera's detection stream, published beside its main stream at ``<publish path>-detect``.

The command centre's vision decodes only a camera's detection stream (``detect_url``, issue 15), so the car sends
one: the camera's own sub-stream as it comes (``detect_source``: its own connection, copied, no CPU), or, for a
camera without one, a stream the car encodes from the main stream's packets (``detect_encode``: the live
publisher's substream mode at ``detect_width``). The main stream's recording and live copy are untouched.
"""
from __future__ import annotations

import logging
import threading

from patrol.publisher import LivePublisher
from patrol.settings import CameraFeed, PatrolSettings
from patrol.source import CameraSource, SourceError, SourcePacket

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


class DetectStream:
    """``offer(p)`` with the main stream's packets (used when encoding); ``start()``/``stop()``; ``publisher``."""

    def __init__(self, feed: CameraFeed, settings: PatrolSettings) -> None:
        live = settings.live_for(feed)
        self.feed = feed
        if feed.detect_source is not None:
            live = live.model_copy(update={"mode": "copy"})
            own = feed.model_copy(update={"source": feed.detect_source, "kind": "rtsp"})
            self._stop = threading.Event()
            self.source: CameraSource | None = CameraSource(own, self._stop, settings.uplink.rtsp_timeout_seconds)
        else:
            live = live.model_copy(update={"mode": "substream", "width": feed.detect_width})
            self._stop = threading.Event()
            self.source = None
        self.publisher = LivePublisher(f"{feed.id}-detect", settings.detect_publish_url(feed), live,
                                       settings.relay_transport, settings.uplink.retry_seconds,
                                       settings.uplink.rtsp_timeout_seconds)
        self._thread: threading.Thread | None = None

    def start(self) -> DetectStream:
        self._stop.clear()
        self.publisher.start()
        if self.source is not None:
            self._thread = threading.Thread(target=self._run, name=f"patrol-detect-{self.feed.id}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.publisher.stop(timeout)

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
