"""The car's small HTTP server: its health, and the recorded segments the command centre fetches after a gap.

* ``GET /api/health`` — the agent's health (link, GPS, queues, disk) as JSON; also what
  ``python -m patrol status`` prints.
* ``GET /api/segments?camera=front&start=<ISO>&end=<ISO>`` — finished segments overlapping the range
  (every parameter optional), oldest first: ``{"segments": [{"camera", "start", "end", "bytes", "url"}],
  "dropped": n}``; ``dropped`` counts segments the disk cap has deleted (a replay may have holes).
* ``GET /api/segments/<camera>/<name>`` — one segment (MP4; HTTP range requests work, so a player seeks).

With ``segments_api.token`` set, the segment routes need ``Authorization: Bearer <token>``. The paths are the
car<->centre protocol's (``gridwatch.protocol``).
"""
from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, jsonify, request, send_file
from waitress import wasyncore
from waitress.server import create_server

from gridwatch.loop import ThreadPart
from gridwatch.protocol import CAR_HEALTH_PATH, SEGMENTS_PATH, segment_path
from patrol.segments import SEGMENT_NAME, SegmentStore
from patrol.settings import CAMERA_ID_PATTERN, SegmentsApiSettings

log = logging.getLogger(__name__)

HealthFn = Callable[[], dict[str, Any]]


class SegmentsApiError(RuntimeError):
    pass


class BadQuery(ValueError):
    """A query parameter the API cannot use; answered 400 with the message."""


def _time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{name}: {raw[:40]!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise BadQuery(f"{name}: {raw[:40]!r} needs a time zone offset (Z or +08:00)")
    return t.astimezone(UTC)


def create_app(store: SegmentStore, health: HealthFn, token: str | None = None) -> Flask:
    camera_id = re.compile(CAMERA_ID_PATTERN)
    app = Flask("patrol")

    @app.errorhandler(BadQuery)
    def bad_query(exc: BadQuery) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), 400

    def authorised() -> bool:
        if token is None:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    @app.get(CAR_HEALTH_PATH)
    def get_health() -> Response:
        return jsonify(health())

    @app.get(SEGMENTS_PATH)
    def list_segments() -> tuple[Response, int]:
        if not authorised():
            return jsonify({"error": "segments need 'Authorization: Bearer <token>'"}), 401
        camera = request.args.get("camera") or None
        if camera is not None and not camera_id.match(camera):
            raise BadQuery(f"camera {camera[:40]!r} is not a camera id")
        start, end = _time_arg("start"), _time_arg("end")
        segs = store.segments(camera, start, end)
        return jsonify({
            "segments": [{"camera": s.camera_id, "start": s.start.isoformat(), "end": s.end.isoformat(),
                          "bytes": s.bytes, "url": segment_path(s.camera_id, s.name)} for s in segs],
            "dropped": store.dropped,
        }), 200

    @app.get(segment_path("<camera>", "<name>"))
    def get_segment(camera: str, name: str) -> Response:
        if not authorised():
            return Response('{"error": "segments need a bearer token"}', 401, mimetype="application/json")
        # Both parts are checked against the naming patterns, so no path can leave the segment folder.
        if not camera_id.match(camera) or not SEGMENT_NAME.match(name):
            abort(404)
        path = store.root / camera / name
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype="video/mp4", conditional=True, max_age=3600)

    return app


class SegmentsApi(ThreadPart):
    """``SegmentsApi(settings, store, health).start()``; ``url``; ``stop()``. The thread is waitress's loop, which
    ends when ``stop()`` closes its sockets (not on ``_stop``)."""

    def __init__(self, settings: SegmentsApiSettings, store: SegmentStore, health: HealthFn) -> None:
        super().__init__("patrol-http")
        self.settings = settings
        self._app = create_app(store, health,
                               settings.token.get_secret_value() if settings.token is not None else None)
        self._map: dict[int, Any] = {}
        self._server: Any = None  # waitress ships no type hints
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise SegmentsApiError("the car's segments API is not started")
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "", "::") else self.settings.host
        return f"http://{host}:{self.port}"

    def start(self) -> SegmentsApi:
        try:
            self._server = create_server(self._app, map=self._map, host=self.settings.host, port=self.settings.port,
                                         threads=4, ident="gridwatch-patrol")
        except OSError as exc:
            raise SegmentsApiError(
                f"car API cannot listen on {self.settings.host}:{self.settings.port}: {exc}") from exc
        self.port = int(self._server.effective_port)
        super().start()
        log.info("car API on %s (health, segments)", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        self._stop.set()  # before the sockets close: the loop's select() may then fail, and that is the stop
        if self._server is not None:
            self._server.task_dispatcher.shutdown(timeout=timeout)
            wasyncore.close_all(self._map)
        ended = super().stop(timeout)
        self._server = None
        self.port = None
        return ended

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # stop() closes the sockets under waitress's select(): EBADF then ends the loop, as intended.
            if not self._stop.is_set():
                raise
