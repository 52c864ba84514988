"""The one place that serialises what travels on Redis Streams and websockets."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gridwatch.categories import CATEGORIES
from gridwatch.types import Alert, CameraState, CameraStatus


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """Alert -> JSON-ready dict (ISO times, category names added), as the API and the wall see it.

    A scored alert (the verdict filter's ``likely_real`` and ``lane``) carries both, as the stream has them;
    an unscored one (no filter yet, or read back from the alerts table, which keeps no score: that lives with
    its evidence and its case) carries neither, rather than a lane it may not be in."""
    cat = CATEGORIES.get(alert.category)
    out = {
        "id": alert.id,
        "camera_id": alert.camera_id,
        "category": alert.category,
        "category_zh": cat.name_zh if cat else alert.category,
        "category_en": cat.name_en if cat else alert.category,
        "confidence": round(float(alert.confidence), 4),
        "detected_at": alert.detected_at.isoformat(),
        "lat": alert.lat,
        "lon": alert.lon,
        "grid_code": alert.grid_code,
        "snapshot_url": alert.snapshot_url,
        "bbox": [round(float(v), 1) for v in alert.bbox],
        "track_id": alert.track_id,
    }
    if alert.likely_real is not None:
        out.update(likely_real=round(float(alert.likely_real), 4), lane=alert.lane)
    return out


def alert_from_dict(d: dict[str, Any]) -> Alert:
    return Alert(
        id=str(d["id"]),
        camera_id=str(d["camera_id"]),
        category=str(d["category"]),
        confidence=float(d["confidence"]),
        detected_at=datetime.fromisoformat(d["detected_at"]),
        lat=None if d.get("lat") is None else float(d["lat"]),
        lon=None if d.get("lon") is None else float(d["lon"]),
        grid_code=d.get("grid_code"),
        snapshot_url=d.get("snapshot_url"),
        bbox=(float(d["bbox"][0]), float(d["bbox"][1]), float(d["bbox"][2]), float(d["bbox"][3])),
        track_id=int(d["track_id"]),
        likely_real=None if d.get("likely_real") is None else float(d["likely_real"]),
        lane=str(d.get("lane") or "wall"),  # entries written before the verdict filter have no lane
    )


def alert_to_stream(alert: Alert) -> dict[str, str]:
    """Fields for XADD: one JSON payload so the stream entry is self-describing and versioned."""
    return {"v": "1", "kind": "alert", "data": json.dumps(alert_to_dict(alert), ensure_ascii=False)}


def alert_from_stream(fields: dict[bytes, bytes] | dict[str, str]) -> Alert:
    norm = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()}
    if norm.get("kind") != "alert":
        raise ValueError(f"not an alert stream entry: kind={norm.get('kind')!r}")
    return alert_from_dict(json.loads(norm["data"]))


def camera_state_to_hash(state: CameraState) -> dict[str, str]:
    """CameraState -> Redis hash fields (``gw:camera:{id}``)."""
    return {
        "camera_id": state.camera_id,
        "name": state.name,
        "status": state.status.value,
        "fps": f"{state.fps:.2f}",
        "frames": str(state.frames),
        "dropped": str(state.dropped),
        "last_frame_at": state.last_frame_at.isoformat() if state.last_frame_at else "",
        "error": state.error or "",
    }


def camera_state_from_hash(h: dict[bytes, bytes] | dict[str, str]) -> CameraState:
    d = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
         for k, v in h.items()}
    return CameraState(
        camera_id=d["camera_id"],
        name=d.get("name", d["camera_id"]),
        status=CameraStatus(d.get("status", "offline")),
        fps=float(d.get("fps") or 0),
        frames=int(d.get("frames") or 0),
        dropped=int(d.get("dropped") or 0),
        last_frame_at=datetime.fromisoformat(d["last_frame_at"]) if d.get("last_frame_at") else None,
        error=d.get("error") or None,
    )
