"""MJPEG for the wall's video tiles: each viewer reads the camera's newest annotated JPEG from Redis on its own.

Viewers share nothing but the Redis connection pool, so a slow browser only ever delays its own stream
(the WSGI thread blocks on its socket; when it resumes it fetches the newest frame, never a backlog).

Each stream holds a WSGI thread for as long as it is watched, so ``ViewerSlots`` caps them per user
(``dashboard.max_streams_per_user``) and in total (``dashboard.max_streams``, kept below the server's threads):
one viewer too many gets 429 while the pages, /login and /healthz keep their threads.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import flask
import redis

from gridwatch import keys
from gridwatch.i18n import N_, translator

log = logging.getLogger(__name__)

BOUNDARY = "gwframe"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
FPS = 5.0
# Resend an unchanged frame this often: a write is the only way a WSGI server notices a viewer left.
HEARTBEAT_S = 2.0
# Threads the server keeps for everything but streams (pages, callbacks, /login, /healthz).
RESERVED_THREADS = 6
EXTENSION = "gridwatch_mjpeg_slots"


class ViewerSlots:
    """How many MJPEG streams are open, per viewer and in total; ``take(who)`` a slot or None when full."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user, self.total = per_user, total
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    @property
    def in_use(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def take(self, who: str) -> Callable[[], None] | None:
        """A release function (call it once the stream ends), or None: the viewer or the server is at its cap."""
        with self._lock:
            mine = self._open.get(who, 0)
            if mine >= self.per_user or sum(self._open.values()) >= self.total:
                return None
            self._open[who] = mine + 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                left = self._open.get(who, 0) - 1
                if left > 0:
                    self._open[who] = left
                else:
                    self._open.pop(who, None)

        return release


def install_slots(server: flask.Flask, per_user: int, total: int, threads: int) -> ViewerSlots:
    """The app's stream caps; ``total`` is lowered to leave RESERVED_THREADS of the server's threads free."""
    slots = ViewerSlots(per_user, max(1, min(total, threads - RESERVED_THREADS)))
    server.extensions[EXTENSION] = slots
    return slots


def slots_of(server: flask.Flask) -> ViewerSlots | None:
    found = server.extensions.get(EXTENSION)
    return found if isinstance(found, ViewerSlots) else None


class Held:
    """A response body that gives its viewer slot back when the server closes it, even if it never ran
    (a generator's ``finally`` does not run for a generator that was never started)."""

    def __init__(self, frames: Iterator[bytes], release: Callable[[], None]) -> None:
        self._frames, self._release = frames, release

    def __iter__(self) -> Iterator[bytes]:
        return self._frames

    def close(self) -> None:
        try:
            close: Any = getattr(self._frames, "close", None)
            if close is not None:
                close()
        finally:
            self._release()


def held(server: flask.Flask, who: str, frames: Iterator[bytes]) -> Iterable[bytes] | None:
    """``frames`` holding one of the viewer's slots, or None (answer 429) when the viewer or the server is full."""
    slots = slots_of(server)
    if slots is None:  # an app served without DashboardServer (tests' Flask client): no threads to protect
        return frames
    release = slots.take(who)
    if release is None:
        if isinstance(frames, Iterator) and hasattr(frames, "close"):
            frames.close()
        return None
    return Held(frames, release)


def part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
    return head + jpeg + b"\r\n"


NO_SIGNAL = N_("No signal")


@functools.cache
def no_signal_jpeg(lang: str = "zh_CN") -> bytes:
    """A dark 16:9 card in the viewer's language, shown while a camera has no fresh preview
    (cv2 and the font are loaded only when first needed)."""
    import cv2
    import numpy as np

    from gridwatch import textdraw

    img = np.full((360, 640, 3), (32, 24, 20), dtype=np.uint8)
    grey = (110, 120, 135)
    text = translator(lang).gettext(NO_SIGNAL)
    try:
        w, h = textdraw.text_size(text, 56, bold=True)
        textdraw.draw_text(img, text, ((640 - w) // 2, (360 - h) // 2), 56, grey, bold=True)
    except textdraw.FontNotFoundError as exc:
        # A wall without its CJK font still streams: the card falls back to OpenCV's ASCII font.
        log.warning("no-signal card in English: %s", exc)
        (w, h), _ = cv2.getTextSize(NO_SIGNAL, cv2.FONT_HERSHEY_SIMPLEX, 1.6, 3)
        cv2.putText(img, NO_SIGNAL, ((640 - w) // 2, (360 + h) // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.6, grey, 3,
                    cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("OpenCV could not encode the no-signal placeholder JPEG")
    return bytes(buf)


def stream(
    client: redis.Redis,
    camera_id: str,
    stop: threading.Event,
    fps: float = FPS,
    gone: Callable[[], bool] | None = None,
    lang: str = "zh_CN",
) -> Iterator[bytes]:
    """Multipart JPEG parts until ``stop`` is set, ``gone()`` says the viewer left (waitress offers that),
    or the server closes the generator after a failed write."""
    interval = 1.0 / fps
    key = keys.camera_preview(camera_id)
    last: bytes | None = None
    last_sent = 0.0
    redis_down = False
    log.debug("MJPEG viewer joined camera %s", camera_id)
    try:
        while not stop.is_set() and not (gone is not None and gone()):
            try:
                jpeg = client.get(key)
                redis_down = False
            except redis.RedisError as exc:
                if not redis_down:
                    log.warning("MJPEG of camera %s: preview unreadable: %s", camera_id, exc)
                redis_down = True
                jpeg = None
            frame = jpeg if isinstance(jpeg, bytes) and jpeg else no_signal_jpeg(lang)
            now = time.monotonic()
            if frame != last or now - last_sent >= HEARTBEAT_S:
                yield part(frame)
                last, last_sent = frame, now
            stop.wait(interval)
    finally:
        log.debug("MJPEG viewer left camera %s", camera_id)
