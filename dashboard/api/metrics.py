"""``GET /metrics``: the city as Redis shows it, for Prometheus (the collectors live in ``gridwatch.metrics``; the
registry is the services bundle's, built once per app)."""
from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.api.common import app_services

blueprint = Blueprint("gridwatch_metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(app_services().metrics), mimetype=CONTENT_TYPE_LATEST)
