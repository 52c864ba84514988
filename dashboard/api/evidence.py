"""``GET /api/evidence/<case_id>.zip``: a case's evidence bundle (alerts.evidence) for supervisors.

Supervisors and admins only, and only for cases in their grid scope. The zip is built in a temporary file
(clips can be large) and streamed; the GPS trace comes from the patrol car's track in Redis when it is still
kept there.
"""
from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import redis
from flask import Blueprint

from alerts.casebook import CaseDetail
from alerts.cases import CaseNotFoundError
from alerts.evidence import write_bundle
from alerts.workflow import Role
from dashboard.api.common import app_services, error
from dashboard.auth import guard, policy, session
from dashboard.context import current
from gridwatch.settings import Settings
from gridwatch.types import GpsFix
from ingest.gps import TelemetryStore

log = logging.getLogger(__name__)

GPS_MARGIN_S = 30.0


def gps_trace(client: redis.Redis, settings: Settings, detail: CaseDetail) -> list[GpsFix]:
    """The fixes of the cars that saw the case, from a little before its first sighting to after its last."""
    cams = sorted({s.camera_id for s in detail.sightings if s.camera_id})
    if not cams or not detail.sightings:
        return []
    rec = settings.recording
    start = min(s.seen_at for s in detail.sightings) - timedelta(seconds=rec.pre_seconds + GPS_MARGIN_S)
    end = max(s.seen_at for s in detail.sightings) + timedelta(seconds=rec.post_seconds + GPS_MARGIN_S)
    store = TelemetryStore(client, settings.ingest.telemetry_track_seconds)
    fixes: list[GpsFix] = []
    try:
        for cam in cams:
            vehicle = settings.ingest.telemetry_vehicles.get(cam, cam)
            fixes += store.track(vehicle, start.timestamp(), end.timestamp())
    except redis.RedisError as exc:
        log.warning("evidence: GPS track unavailable: %s", exc)
        return []
    return sorted(fixes, key=lambda f: f.time)


blueprint = Blueprint("gridwatch_evidence", __name__)


@blueprint.get("/api/evidence/<case_id>.zip")
@guard.require(Role.SUPERVISOR)
def evidence(case_id: str) -> Any:
    ctx = current()
    svc = app_services()
    try:
        detail = svc.book.detail(case_id)
    except CaseNotFoundError:
        return error(404, f"no case {case_id}")
    user = session.current_user()
    if user is None or not policy.case_visible(user, detail.case):
        return error(403, f"case {case_id} is outside your grid")
    fixes = gps_trace(ctx.redis, ctx.settings, detail)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    manifest = write_bundle(out, detail, ctx.settings.media_dir, user.username, datetime.now(UTC), fixes)
    out.seek(0)
    log.info("evidence of case %s (%d files) exported by %s", case_id, len(manifest.files), user.username)
    response = flask.send_file(out, mimetype="application/zip", as_attachment=True,
                               download_name=f"evidence-{case_id}.zip", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
