"""Issue events -> stored alerts: snapshot on disk, grid located, row in the database, entry on the stream.

The alert and its stream entry are written in one transaction (the outbox); the relay publishes the entry,
so a Redis outage never loses an alert and never holds the vision worker up.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from datetime import UTC
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import redis

from alerts import observed
from alerts.db import QueryError
from alerts.filters import FilterSet, Judgement
from alerts.health import PartHealth
from alerts.outbox import OutboxRelay
from alerts.repository import MEDIA_URL_PREFIX, Repository, UnknownGridError
from geo.grids import Locator
from gridwatch import keys
from gridwatch.i18n import category_name
from gridwatch.types import Alert, IssueEvent
from vision.annotate import draw_issue_box

log = logging.getLogger(__name__)

MAX_SNAPSHOT_WIDTH = 1280
JPEG_QUALITY = 85


def _rounded_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    # The stream carries one decimal (gridwatch.events); storing the same value keeps API, wall and stream equal.
    return (round(float(bbox[0]), 1), round(float(bbox[1]), 1), round(float(bbox[2]), 1), round(float(bbox[3]), 1))


def render_snapshot(
    image: npt.NDArray[np.uint8],
    bbox: tuple[float, float, float, float],
    max_width: int = MAX_SNAPSHOT_WIDTH,
    label: str | None = None,
) -> tuple[bytes, tuple[float, float, float, float]]:
    """JPEG of ``image`` downscaled to ``max_width`` with ``bbox`` outlined and ``label`` (any script) on it;
    also the bbox in the JPEG's pixels."""
    h, w = image.shape[:2]
    scale = min(1.0, max_width / w) if w else 1.0
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.uint8, copy=False)
    else:
        image = image.copy()  # never draw on the caller's frame
    out_h, out_w = image.shape[:2]
    limits = (out_w - 1, out_h - 1, out_w - 1, out_h - 1)
    x1, y1, x2, y2 = (min(max(v * scale, 0.0), lim) for v, lim in zip(bbox, limits, strict=True))
    draw_issue_box(image, (round(x1), round(y1), round(x2), round(y2)), label)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"JPEG encoding of a {w}x{h} snapshot failed")
    return buf.tobytes(), (x1, y1, x2, y2)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # the dashboard never serves a half-written JPEG


class AlertSink:
    """Records issue events as alerts; one call per event from the vision worker's thread.

    ``start()`` runs the outbox relay in its own thread (the production set-up); without it each alert is
    published inline right after it is stored, with a fail-fast Redis client, and a stored alert that could not
    be published waits in the outbox for the next attempt.
    """

    def __init__(
        self,
        repo: Repository,
        redis: redis.Redis | str,
        media_dir: Path,
        grids: Locator | None,
        stream: str = keys.ALERTS_STREAM,
        maxlen: int = 10000,
        relay: OutboxRelay | None = None,
        language: str = "zh_CN",
        filters: FilterSet | None = None,
    ) -> None:
        """``filters``: the verdict filters that score new alerts (kept current by alerts.filters.FilterWatcher);
        an alert below their threshold goes to the desk's low-priority lane instead of the wall."""
        self._repo = repo
        self._filters = filters
        self._language = language
        self._media_dir = Path(media_dir)
        self._grids = grids
        self._stream = stream
        self.relay = relay if relay is not None else OutboxRelay(repo.engine, redis, maxlen=maxlen)

    def start(self) -> AlertSink:
        self.relay.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.relay.stop(timeout)

    def health(self) -> PartHealth:
        return self.relay.health()

    def record(self, event: IssueEvent) -> Alert | None:
        """Store ``event`` as an alert and publish it; None when this event_id was stored before."""
        # Later phases of one issue repeat its event_id: answer them before spending time on a JPEG.
        if self._repo.event_stored(event.event_id):
            return None
        if event.last_seen.tzinfo is None:
            raise ValueError(f"event {event.event_id}: last_seen must be timezone-aware, got {event.last_seen}")
        alert_id = uuid.uuid4().hex
        detected_at = event.last_seen.astimezone(UTC)
        bbox = event.bbox
        snapshot_rel: str | None = None
        snapshot_file: Path | None = None
        if event.snapshot is not None:
            label = f"{category_name(event.category, self._language)} {event.confidence:.0%}"
            jpeg, bbox = render_snapshot(event.snapshot, event.bbox, label=label)
            snapshot_rel = f"snapshots/{detected_at:%Y/%m/%d}/{alert_id}.jpg"
            snapshot_file = self._media_dir / snapshot_rel
            _write_atomically(snapshot_file, jpeg)
        crop_rel: str | None = None
        if event.snapshot is not None and event.evidence is not None:
            crop = observed.crop_jpeg(event.snapshot, event.bbox)
            if crop is not None:
                crop_rel = f"crops/{detected_at:%Y/%m/%d}/{alert_id}.jpg"
                _write_atomically(self._media_dir / crop_rel, crop)
        judged = self._judge(event)
        grid = None
        if event.fix is not None and self._grids is not None:
            grid = self._grids.locate(event.fix.lat, event.fix.lon)
        alert = Alert(
            id=alert_id,
            camera_id=event.camera_id,
            category=event.category,
            confidence=round(float(event.confidence), 4),  # as the stream carries it
            detected_at=detected_at,
            lat=event.fix.lat if event.fix else None,
            lon=event.fix.lon if event.fix else None,
            grid_code=grid.code if grid else None,
            snapshot_url=None if snapshot_rel is None else MEDIA_URL_PREFIX + snapshot_rel,
            bbox=_rounded_bbox(bbox),
            track_id=int(event.track_id),
            likely_real=None if judged is None else round(judged.likely_real, 4),
            lane=judged.lane if judged is not None else "wall",
        )
        crop_file = None if crop_rel is None else self._media_dir / crop_rel
        try:
            stored = self._store(alert, event.event_id, snapshot_rel)
        except BaseException:
            self._discard(snapshot_file)
            self._discard(crop_file)
            raise
        if stored is None:
            self._discard(snapshot_file)  # another worker stored this event in the meantime
            self._discard(crop_file)
            return None
        alert = stored
        if event.evidence is not None:
            try:
                observed.store(self._repo.engine, alert.id, crop_rel, event.evidence, alert.likely_real,
                               None if judged is None else judged.filter_id)
            except QueryError as exc:
                # The alert is stored and on its way; only what a later verdict would learn from is lost.
                log.warning("alert %s: its evidence could not be stored: %s", alert.id, exc)
        log.info(
            "alert %s stored: event %s camera %s category %s grid %s",
            alert.id, event.event_id, alert.camera_id, alert.category, alert.grid_code,
        )
        self.relay.kick()
        return alert

    def _judge(self, event: IssueEvent) -> Judgement | None:
        if self._filters is None or event.evidence is None:
            return None
        return self._filters.judge(event.category, event.evidence.feature_map())

    def _store(self, alert: Alert, event_id: str, snapshot_rel: str | None) -> Alert | None:
        """The alert as stored, or None for an already stored event."""
        try:
            return alert if self._repo.add_alert(alert, event_id, snapshot_rel, self._stream) else None
        except UnknownGridError as exc:
            # The index and the stored map disagree (a map re-imported while this worker ran): keep the alert.
            log.warning("%s; storing it without a grid", exc)
            alert = dataclasses.replace(alert, grid_code=None)
            return alert if self._repo.add_alert(alert, event_id, snapshot_rel, self._stream) else None

    @staticmethod
    def _discard(path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)
