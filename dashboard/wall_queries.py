"""Pure reads behind the wall and the JSON API: Redis and the alert repository in, JSON-ready dicts out.

Callbacks and routes stay thin over these, so every number the wall shows can be tested without a browser.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

import redis

from gridwatch import keys, media, timefmt
from gridwatch.events import alert_to_dict, camera_state_from_hash
from gridwatch.settings import CameraSettings
from gridwatch.types import Alert, CameraState, CameraStatus

log = logging.getLogger(__name__)

MAX_ALERT_LIMIT = 500
DEFAULT_ALERT_LIMIT = 50
TODAY_SCAN_LIMIT = 500  # the repository lists newest first; beyond this the wall shows "500+"

_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_STREAM_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")


class AlertRepository(Protocol):
    """What the dashboard needs from ``alerts.repository.Repository``."""

    def recent_alerts(self, limit: int = 50, scope: str | None = None) -> list[Alert]: ...


class LimitError(ValueError):
    """A ``limit`` query parameter that is not a whole number in the allowed range.

    ``raw`` and ``maximum`` let the API word the message in the client's language.
    """

    def __init__(self, raw: str, maximum: int) -> None:
        self.raw = raw
        self.maximum = maximum
        super().__init__(f"limit must be a whole number from 1 to {maximum}, got {raw!r}")


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def parse_limit(raw: str | None, default: int = DEFAULT_ALERT_LIMIT, maximum: int = MAX_ALERT_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LimitError(raw, maximum) from None
    if not 1 <= value <= maximum:
        raise LimitError(raw, maximum)
    return value


def is_stream_id(value: str) -> bool:
    return bool(_STREAM_ID_RE.match(value))


def scrub_urls(text: str | None) -> str | None:
    """Reader errors may quote the RTSP URL; the browser never sees one, with or without a password."""
    if not text:
        return None
    return _URL_RE.sub("<url>", text)


def camera_states(client: redis.Redis, configured: Sequence[CameraSettings] = ()) -> list[CameraState]:
    """Configured cameras in config order, then any others that publish state, by id.

    A camera whose state hash has expired (its reader stopped publishing) reads as offline.
    """
    config = {c.id: c for c in configured}
    published = sorted(_text(m) for m in cast(set[bytes], client.smembers(keys.CAMERA_INDEX)))
    order = list(config) + [cid for cid in published if cid not in config]
    pipe = client.pipeline(transaction=False)
    for cid in order:
        pipe.hgetall(keys.camera_state(cid))
    hashes = pipe.execute()
    states: list[CameraState] = []
    for cid, h in zip(order, hashes, strict=True):
        cfg = config.get(cid)
        if h:
            try:
                states.append(camera_state_from_hash(h))
                continue
            except (KeyError, ValueError) as exc:
                log.warning("camera %s has an unreadable state hash (%s); shown as offline", cid, exc)
        status = CameraStatus.DISABLED if cfg is not None and not cfg.enabled else CameraStatus.OFFLINE
        states.append(CameraState(cid, cfg.name if cfg else cid, status, 0.0, 0, 0, None))
    return states


def camera_view(state: CameraState, now: datetime, tz: str = timefmt.DEFAULT_TIMEZONE) -> dict[str, Any]:
    """One camera as the API and the wall show it: never its URL. Times in UTC and, beside them, local."""
    age = None
    last = local = None
    if state.last_frame_at is not None:
        age = round(max(0.0, (now - state.last_frame_at).total_seconds()), 1)
        last, local = timefmt.iso_utc(state.last_frame_at), timefmt.iso_local(state.last_frame_at, tz)
    return {
        "id": state.camera_id,
        "name": state.name,
        "state": state.status.value,
        "fps": round(state.fps, 1),
        "dropped": state.dropped,
        "last_frame_at": last,
        "last_frame_at_local": local,
        "last_frame_age_s": age,
        "error": scrub_urls(state.error),
    }


def camera_views(
    client: redis.Redis, configured: Sequence[CameraSettings], now: datetime, tz: str = timefmt.DEFAULT_TIMEZONE
) -> list[dict[str, Any]]:
    return [camera_view(s, now, tz) for s in camera_states(client, configured)]


def camera_known(client: redis.Redis, configured: Sequence[CameraSettings], camera_id: str) -> bool:
    if any(c.id == camera_id for c in configured):
        return True
    return bool(client.sismember(keys.CAMERA_INDEX, camera_id)) or bool(
        client.exists(keys.camera_preview(camera_id))
    )


def alert_view(alert: Alert, tz: str = timefmt.DEFAULT_TIMEZONE) -> dict[str, Any]:
    """An alert as the API and the push feed carry it: ``detected_at`` in UTC, ``detected_at_local`` in the
    city's zone (same instant, e.g. +08:00)."""
    view = alert_to_dict(alert)
    view["detected_at_local"] = timefmt.iso_local(alert.detected_at, tz)
    return view


def alert_views(
    repo: AlertRepository,
    limit: int = DEFAULT_ALERT_LIMIT,
    tz: str = timefmt.DEFAULT_TIMEZONE,
    media_dir: Path | None = None,
    scope: str | None = None,
) -> list[dict[str, Any]]:
    """Newest alerts for the API and the wall (with ``scope``, of that grid's subtree only); with ``media_dir``,
    each says where its clip is once written."""
    views = []
    for a in repo.recent_alerts(limit=limit, scope=scope):
        view = alert_view(a, tz)
        if media_dir is not None:
            view["clip_url"] = media.clip_url(media_dir, a.id, a.detected_at)
        views.append(view)
    return views


def count_today(alerts: Sequence[Alert], now: datetime, tz: str = timefmt.DEFAULT_TIMEZONE) -> int:
    """Alerts detected since midnight in the city's zone (the command centre's day, whatever the server's)."""
    start, end = timefmt.local_day_bounds(now, tz)
    return sum(1 for a in alerts if start <= a.detected_at < end)


def today_summary(
    repo: AlertRepository, now: datetime, tz: str = timefmt.DEFAULT_TIMEZONE, scan: int = TODAY_SCAN_LIMIT,
    in_scope: Callable[[str | None], bool] | None = None,
) -> dict[str, Any]:
    """Today's alert count for the wall's header; ``in_scope`` keeps a grid-scoped viewer's subtree only."""
    alerts = repo.recent_alerts(limit=scan)
    count = count_today([a for a in alerts if in_scope is None or in_scope(a.grid_code)], now, tz)
    # Capped: every alert scanned is today's, so older ones of today may lie beyond the scan.
    capped = len(alerts) >= scan and count_today(alerts, now, tz) >= scan
    return {"day": timefmt.local_day(now, tz).isoformat(), "count": count, "capped": capped}


# How urgent each category is on the wall (1 most): a person who may need help first, then what blocks the
# road, then trading that only needs a visit.
PRIORITIES: dict[str, int] = {"0502": 1, "0503": 2, "0507": 2, "0501": 3, "0504": 3}
DEFAULT_PRIORITY = 3


def priority(category: str) -> int:
    return PRIORITIES.get(category, DEFAULT_PRIORITY)


def camera_positions(
    client: redis.Redis,
    configured: Sequence[CameraSettings],
    camera_ids: Sequence[str],
    vehicles: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """{camera id: {lat, lon, age_s}}: a fixed camera's configured place, else its car's newest GPS fix.

    ``vehicles`` maps camera ids to vehicle ids where they differ (settings.ingest.telemetry_vehicles).
    """
    config = {c.id: c for c in configured}
    out: dict[str, dict[str, Any]] = {}
    ask: list[str] = []
    for cid in camera_ids:
        cfg = config.get(cid)
        if cfg is not None and cfg.lat is not None and cfg.lon is not None:
            out[cid] = {"lat": cfg.lat, "lon": cfg.lon, "age_s": None}
        else:
            ask.append(cid)
    if not ask:
        return out
    pipe = client.pipeline(transaction=False)
    for cid in ask:
        pipe.hget(keys.last_fix((vehicles or {}).get(cid, cid)), "fix")
    for cid, raw in zip(ask, pipe.execute(), strict=True):
        if not raw:
            continue
        try:
            fix = json.loads(raw)
            lat, lon = float(fix["lat"]), float(fix["lon"])
            at = datetime.fromisoformat(fix["time"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("camera %s: unreadable last GPS fix: %s", cid, exc)
            continue
        age = None if now is None else round(max(0.0, (now - at).total_seconds()), 1)
        out[cid] = {"lat": lat, "lon": lon, "age_s": age}
    return out


def vehicle_marker(view: dict[str, Any]) -> dict[str, Any]:
    """A vehicle of fleet.vehicles (``VehicleView.to_dict()``) as the map's vehicle layer takes it."""
    fix = view.get("last_fix") or {}
    lat, lon = fix.get("lat"), fix.get("lon")
    return {"id": view["id"], "name": view.get("name") or view["id"], "status": view.get("status"),
            "link": view.get("link"), "lat": None if lat is None else round(float(lat), 6),
            "lon": None if lon is None else round(float(lon), 6), "track": view.get("track") or []}


def preview_jpeg(client: redis.Redis, camera_id: str) -> bytes | None:
    """The camera's newest annotated preview frame, None while it has none."""
    raw = client.get(keys.camera_preview(camera_id))
    return raw if isinstance(raw, bytes) and raw else None


def stream_last_id(client: redis.Redis, stream: str = keys.ALERTS_STREAM) -> str:
    """Id of the newest entry, "0-0" when the stream is empty: where a fresh page's push feed resumes."""
    entries: Any = client.xrevrange(stream, count=1)
    if not entries:
        return "0-0"
    return _text(entries[0][0])


def redis_ok(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        log.warning("health: redis unreachable: %s", exc)
        return False


def database_ok(repo: AlertRepository) -> bool:
    try:
        repo.recent_alerts(limit=1)
        return True
    except Exception as exc:  # noqa: BLE001 - health reports any store failure instead of failing itself
        log.warning("health: database unreachable: %s", exc)
        return False


def health(client: redis.Redis, repo: AlertRepository) -> dict[str, Any]:
    r, d = redis_ok(client), database_ok(repo)
    return {"status": "ok" if r and d else "degraded", "redis": r, "database": d}
