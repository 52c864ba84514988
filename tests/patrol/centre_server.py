"""A stand-in command centre for the car's tests: a real HTTP server on loopback.

GPS goes through the REAL receiver (``dashboard.api.telemetry`` on a private redis-server); reports and crew
status are kept in lists exactly as they arrived, because these tests check what the car sends and when
(store and forward, retries, order). The real command-centre routes for them (``dashboard.api.fleet``) are run
against the real car in tests/ingest/test_fleet_api.py.
``stop()``/``start()`` keep the port, so a restart is the link coming back.
"""
from __future__ import annotations

import threading
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from waitress import wasyncore
from waitress.server import create_server

from dashboard.api import telemetry
from fleet.telemetry import TelemetryIngest
from gridwatch.redis_server import free_port
from gridwatch.settings import IngestSettings, Settings
from ingest.gps import TelemetryStore
from tests.api_testing import api_app


class CentreServer:
    def __init__(self, client: redis.Redis, settings: Settings, port: int | None = None) -> None:
        self.port = port or free_port()
        self.telemetry = TelemetryStore(client, track_seconds=900)
        self.reports: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._app = self._make_app(settings, client, TelemetryIngest(self.telemetry, IngestSettings()))
        self._map: dict[int, Any] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _make_app(self, settings: Settings, client: redis.Redis, ingest: TelemetryIngest) -> Flask:
        app = api_app(settings, client, telemetry.blueprint, telemetry=ingest)

        @app.before_request
        def count() -> None:
            with self._lock:
                self.requests += 1

        @app.post("/api/reports")
        def reports() -> tuple[Response, int]:
            body = request.get_json()
            if not isinstance(body, dict) or "report_id" not in body:
                return jsonify({"error": "a report needs a report_id"}), 400
            with self._lock:
                if any(r["report_id"] == body["report_id"] for r in self.reports):
                    return jsonify({"duplicate": True}), 200
                self.reports.append(body)
            return jsonify({"id": body["report_id"]}), 201

        @app.post("/api/vehicles/<vehicle_id>/status")
        def status(vehicle_id: str) -> tuple[Response, int]:
            body = request.get_json()
            with self._lock:
                self.statuses.append({"path_vehicle": vehicle_id, **body})
            return jsonify({"ok": True}), 200

        return app

    def start(self) -> CentreServer:
        self._map = {}
        self._server = create_server(self._app, map=self._map, host="127.0.0.1", port=self.port, threads=4)
        self._thread = threading.Thread(target=self._server.run, name="test-centre", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.task_dispatcher.shutdown(timeout=5)
            wasyncore.close_all(self._map)
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None
