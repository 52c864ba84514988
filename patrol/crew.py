"""What the crew does by hand: mark itself on patrol / paused / off duty, and file a report.

Both are queued in the car's ``CarStore`` first (so they survive a dead link) and sent by the agent.

What the car sends and how the centre answers is the car<->centre protocol, ``gridwatch.protocol``.
"""
from __future__ import annotations

import base64
import logging
import mimetypes
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridwatch.categories import CATEGORIES
from gridwatch.protocol import CrewStatus, Report, ReportPhoto, StatusChange
from patrol.settings import PatrolSettings
from patrol.store import CarStore, Item

log = logging.getLogger(__name__)

REPORT_KIND = "report"
STATUS_KIND = "status"
LAST_FIX_KEY = "last_fix"
STATUS_KEY = "crew_status"
PHOTO_DIR = "photos"
MAX_PHOTO_BYTES = 8 * 1024 * 1024  # the centre's request limit must allow a base64 body of this (+33 %)


class ReportError(ValueError):
    """A report that cannot be filed: unknown category, missing or oversized photo; the message says which."""


def _position(store: CarStore) -> dict[str, Any]:
    last = store.get_state(LAST_FIX_KEY)
    if last is None:
        return {"lat": None, "lon": None, "position_time": None}
    return {"lat": last["lat"], "lon": last["lon"], "position_time": last["time"]}


def current_status(store: CarStore) -> dict[str, Any]:
    """``{"status": ..., "changed_at": ...}``; a car that never set one is on patrol since unknown."""
    return store.get_state(STATUS_KEY) or {"status": CrewStatus.ON_PATROL.value, "changed_at": None}


def set_status(store: CarStore, settings: PatrolSettings, status: CrewStatus | str) -> dict[str, Any]:
    """Record the crew's status and queue it for the command centre; returns what is sent."""
    status = CrewStatus(status)
    now = datetime.now(UTC)
    pos = _position(store)
    body = StatusChange(vehicle_id=settings.vehicle_id, status=status, changed_at=now, crew=list(settings.crew),
                        shift=settings.shift, lat=pos["lat"], lon=pos["lon"]).to_json()
    store.set_state(STATUS_KEY, {"status": status.value, "changed_at": body["changed_at"]})
    store.put(STATUS_KIND, body)
    log.info("crew of %s is now %s", settings.vehicle_id, status.value)
    return body


def file_report(store: CarStore, settings: PatrolSettings, category: str, note: str = "",
                photo: Path | None = None, lat: float | None = None, lon: float | None = None) -> dict[str, Any]:
    """Queue a manual report at the car's current position (or ``lat``/``lon``); returns it (photo as a path).

    The photo is copied into the car's state folder, so deleting or replacing the original before the link
    returns changes nothing.
    """
    if category not in CATEGORIES:
        raise ReportError(f"unknown issue category {category!r}; known: {', '.join(CATEGORIES)}")
    if (lat is None) != (lon is None):
        raise ReportError("give both --lat and --lon, or neither (then the car's last GPS fix is used)")
    report_id = uuid.uuid4().hex
    photo_entry: dict[str, Any] | None = None
    if photo is not None:
        photo = Path(photo)
        try:
            size = photo.stat().st_size
        except OSError as exc:
            raise ReportError(f"photo {photo} cannot be read: {exc.strerror}") from None
        if size > MAX_PHOTO_BYTES:
            raise ReportError(f"photo {photo} has {size} bytes; at most {MAX_PHOTO_BYTES} (resize it)")
        kept = Path(store.path.parent) / PHOTO_DIR / f"{report_id}{photo.suffix.lower()}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, kept)
        photo_entry = {"filename": photo.name, "path": str(kept),
                       "content_type": mimetypes.guess_type(photo.name)[0] or "application/octet-stream"}
    pos = {"lat": lat, "lon": lon, "position_time": None} if lat is not None else _position(store)
    report = {"report_id": report_id, "vehicle_id": settings.vehicle_id, "crew": list(settings.crew),
              "shift": settings.shift, "category": category, "note": note,
              "created_at": datetime.now(UTC).isoformat(), **pos, "photo": photo_entry}
    store.put(REPORT_KIND, report)
    log.info("report %s (%s) queued for the command centre", report_id, category)
    return report


def report_body(item: Item) -> dict[str, Any]:
    """The queued report as sent: the photo read from the car's copy and inlined as base64."""
    q = item.payload
    return Report(report_id=q["report_id"], vehicle_id=q["vehicle_id"], crew=list(q["crew"]), shift=q["shift"],
                  category=q["category"], note=q["note"], created_at=_when(q["created_at"]), lat=q["lat"],
                  lon=q["lon"], position_time=_when(q["position_time"]), photo=_photo(q)).to_json()


def _when(queued: str | None) -> datetime | None:
    return None if queued is None else datetime.fromisoformat(queued)


def _photo(queued: dict[str, Any]) -> ReportPhoto | None:
    """The report's photo read from the car's copy; None (sent without it) when it has gone."""
    photo = queued.get("photo")
    if not photo:
        return None
    path = Path(photo["path"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.warning("report %s: photo %s is gone (%s); sending without it", queued["report_id"], path, exc)
        return None
    return ReportPhoto(filename=photo["filename"], content_type=photo["content_type"],
                       data_base64=base64.b64encode(data).decode())
