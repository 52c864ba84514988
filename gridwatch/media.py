"""Where media files of an alert live under the media folder: one convention for the writer and the readers."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

MEDIA_URL_PREFIX = "/media/"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def clip_relpath(alert_id: str, at: datetime) -> str:
    """``clips/YYYY/MM/DD/<alert id>.mp4`` (UTC day of the alert), relative to the media folder."""
    if not _SAFE_ID.match(alert_id):
        raise ValueError(f"alert id {alert_id!r} cannot name a clip file (letters, digits, - and _ only)")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"alert time must be timezone-aware (UTC), got naive {at.isoformat()}")
    return f"clips/{at.astimezone(UTC):%Y/%m/%d}/{alert_id}.mp4"


def clip_url(media_dir: Path, alert_id: str, at: datetime) -> str | None:
    """The clip's URL once the clip writer has finished it (clips are written a few seconds after the alert)."""
    rel = clip_relpath(alert_id, at)
    return MEDIA_URL_PREFIX + rel if (media_dir / rel).is_file() else None
