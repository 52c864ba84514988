"""A spot seen clear: a camera that looks at an open case's place and finds nothing of its category there.

The vision worker reports every analysed frame with the (category, box) of each issue its camera's rules hold
open (``vision.worker.FrameSink``); this module decides, from the open cases it keeps in memory (re-read
every ``refresh_s``), whether that frame looked at a case's place:

* a moving camera (patrol car) looks at a place when it is within ``cases.clear_range_m`` and inside the
  camera's field of view from the car's GPS position and heading (``geo.sight.in_view``, pure). A pass is
  the run of frames that have the place in view; when the place leaves the view after at least
  ``cases.clear_min_frames`` such frames, none of which held the case's category, the pass saw it clear. Frames
  within ``cases.pass_gap_s`` of the case's last sighting belong to that sighting's pass and never count.
* a fixed camera looks at the cases it raised itself; once it has watched (frames without a gap) for
  ``cases.clear_after_seconds`` since the problem was last seen at its spot, it saw the spot clear.

Either way the case gets a ``clear`` sighting with the picture (``CaseService.record_clear_pass``), and moves
to the operator's check. The pass's decision is made here; everything it writes goes through alerts.cases.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts import places
from alerts.cases import CLEAR_NOTE, CaseService
from alerts.models import CaseRow
from alerts.sink import MAX_SNAPSHOT_WIDTH, _write_atomically
from geo import sight
from geo.distance import haversine_m
from gridwatch import textdraw
from gridwatch.settings import CameraSettings
from gridwatch.types import Frame

log = logging.getLogger(__name__)

_CASES = cast(sa.Table, CaseRow.__table__)
_OPEN = sa.select(
    _CASES.c.id, _CASES.c.category, _CASES.c.lat, _CASES.c.lon, _CASES.c.camera_id, _CASES.c.last_seen,
    _CASES.c.possibly_resolved_at, _CASES.c.spot_x1, _CASES.c.spot_y1, _CASES.c.spot_x2, _CASES.c.spot_y2,
).where(_CASES.c.is_open == sa.true())
WATCH_GAP_S = 30.0  # a fixed camera without frames this long was not watching: its clear period starts again
Seen = Sequence[tuple[str, places.Box]]


@dataclass(frozen=True, slots=True)
class OpenCase:
    id: str
    category: str
    lat: float | None
    lon: float | None
    camera_id: str | None
    last_seen: datetime
    possibly_resolved_at: datetime | None
    spot: places.Box | None


@dataclass
class _Pass:
    """A moving camera's frames with one case's place in view."""

    frames: int = 0
    saw: bool = False
    last_at: datetime | None = None
    best: tuple[float, Frame] | None = None  # (distance, frame): the closest look, for the snapshot


@dataclass
class _Watch:
    """A fixed camera's watch over one of its cases."""

    clear_since: datetime
    recorded_for: datetime | None = None


@dataclass
class _CameraState:
    passes: dict[str, _Pass] = field(default_factory=dict)
    watches: dict[str, _Watch] = field(default_factory=dict)
    last_frame_at: datetime | None = None
    watching_since: datetime | None = None


def is_mobile(camera: CameraSettings | None) -> bool:
    """A moving camera, as vision.zones.CameraView decides it (explicit setting, else having a GPS route)."""
    if camera is None:
        return False
    return camera.vision.mobile if camera.vision.mobile is not None else camera.gps_route is not None


def clear_snapshot(picture: npt.NDArray[np.uint8], label: str = CLEAR_NOTE,
                   max_width: int = MAX_SNAPSHOT_WIDTH) -> bytes:
    """JPEG of what the camera looked at, labelled so it is never taken for a sighting."""
    h, w = picture.shape[:2]
    if w > max_width:
        size = (max_width, max(1, round(h * max_width / w)))
        image = cv2.resize(picture, size, interpolation=cv2.INTER_AREA).astype(np.uint8, copy=False)
    else:
        image = picture.copy()
    textdraw.draw_label(image, label, (4, 4), size=textdraw.label_size_for(image.shape), bg=(0, 140, 0))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("JPEG encoding of a clear snapshot failed")
    return bytes(buf.tobytes())


class ClearWatch:
    """Per analysed frame: ``observe(frame, seen, camera)``; returns the ids of cases it saw clear."""

    def __init__(
        self, engine: Engine, cases: CaseService, media_dir: Path, *,
        fixed_camera: Callable[[str], bool] | None = None, refresh_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._cases = cases
        self.settings = cases.settings
        self._media = Path(media_dir)
        self._fixed_camera = fixed_camera or (lambda _cid: False)
        self._refresh_s = refresh_s
        self._mono = monotonic
        self._open: list[OpenCase] = []
        self._read_at = float("-inf")
        self._cameras: dict[str, _CameraState] = {}
        self.recorded = 0

    def refresh(self) -> None:
        with self._engine.connect() as conn:
            rows = conn.execute(_OPEN).all()
        self._open = [OpenCase(r.id, r.category, r.lat, r.lon, r.camera_id, r.last_seen, r.possibly_resolved_at,
                               None if r.spot_x1 is None else (r.spot_x1, r.spot_y1, r.spot_x2, r.spot_y2))
                      for r in rows]
        self._read_at = self._mono()

    def observe(self, frame: Frame, seen: Seen, camera: CameraSettings | None) -> list[str]:
        if self._mono() - self._read_at >= self._refresh_s:
            try:
                self.refresh()
            except sa.exc.SQLAlchemyError as exc:  # the database away: look again later, never stop vision
                log.warning("seen-clear: open cases not readable: %s", exc)
                self._read_at = self._mono()
        state = self._cameras.setdefault(frame.camera_id, _CameraState())
        gap = (state.last_frame_at is None
               or (frame.captured_at - state.last_frame_at).total_seconds() > WATCH_GAP_S)
        if gap:
            state.watching_since = frame.captured_at
        state.last_frame_at = frame.captured_at
        if is_mobile(camera):
            assert camera is not None
            return self._moving(frame, seen, camera, state)
        return self._fixed(frame, seen, state)

    # --- a patrol car's camera -----------------------------------------------------------------------------

    def _moving(self, frame: Frame, seen: Seen, camera: CameraSettings, state: _CameraState) -> list[str]:
        s = self.settings
        categories = {c for c, _ in seen}
        in_view: set[str] = set()
        fix = frame.fix
        if fix is not None:
            gap = timedelta(seconds=s.pass_gap_s)
            for case in self._open:
                if case.lat is None or case.lon is None or frame.captured_at - case.last_seen <= gap:
                    continue
                if case.camera_id is not None and self._fixed_camera(case.camera_id):
                    continue  # its position is that camera's, not the problem's
                distance = haversine_m(fix.lat, fix.lon, case.lat, case.lon)
                if distance > s.clear_range_m or not sight.in_view(
                    fix.lat, fix.lon, fix.heading, case.lat, case.lon, range_m=s.clear_range_m,
                    fov_deg=camera.vision.fov_deg, facing_deg=camera.vision.facing_deg,
                ):
                    continue
                in_view.add(case.id)
                p = state.passes.setdefault(case.id, _Pass())
                p.frames += 1
                p.saw |= case.category in categories
                p.last_at = frame.captured_at
                if p.best is None or distance < p.best[0]:
                    p.best = (distance, frame)
        done: list[str] = []
        for case_id in [c for c in state.passes if c not in in_view]:
            p = state.passes.pop(case_id)
            if p.frames >= s.clear_min_frames and not p.saw and p.best is not None and p.last_at is not None:
                best = p.best[1]
                at = best.fix.time if best.fix is not None else p.last_at
                if self._record(case_id, frame.camera_id, best, max(at, best.captured_at)):
                    done.append(case_id)
        return done

    # --- a fixed camera ------------------------------------------------------------------------------------------

    def _fixed(self, frame: Frame, seen: Seen, state: _CameraState) -> list[str]:
        s = self.settings
        mine = [c for c in self._open if c.camera_id == frame.camera_id]
        ids = {c.id for c in mine}
        for gone in [c for c in state.watches if c not in ids]:
            state.watches.pop(gone)
        done: list[str] = []
        for case in mine:
            w = state.watches.setdefault(case.id, _Watch(case.last_seen))
            w.clear_since = max(w.clear_since, case.last_seen)
            if any(cat == case.category and (case.spot is None or places.same_spot(box, case.spot))
                   for cat, box in seen):
                w.clear_since = frame.captured_at
                continue
            since = max(w.clear_since, state.watching_since or frame.captured_at)
            if (frame.captured_at - since).total_seconds() < s.clear_after_seconds:
                continue
            if w.recorded_for == w.clear_since or (case.possibly_resolved_at is not None
                                                   and case.possibly_resolved_at >= w.clear_since):
                continue  # this clear period is on the case already
            w.recorded_for = w.clear_since
            if self._record(case.id, frame.camera_id, frame, frame.captured_at):
                done.append(case.id)
        return done

    # --- recording -----------------------------------------------------------------------------------------------

    def _record(self, case_id: str, camera_id: str, frame: Frame, at: datetime) -> bool:
        at = at.astimezone(UTC)
        rel = f"snapshots/{at:%Y/%m/%d}/clear-{uuid.uuid4().hex}.jpg"
        path: str | None = rel
        try:
            _write_atomically(self._media / rel, clear_snapshot(frame.image))
        except (OSError, ValueError) as exc:
            log.warning("seen-clear snapshot of case %s not written: %s", case_id, exc)
            path = None
        fix: Any = frame.fix
        try:
            ok = self._cases.record_clear_pass(case_id, camera_id, at, fix.lat if fix else None,
                                               fix.lon if fix else None, path)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("seen-clear pass of case %s by %s not recorded: %s", case_id, camera_id, exc)
            ok = False
        if not ok and path is not None:
            (self._media / path).unlink(missing_ok=True)
        if ok:
            self.recorded += 1
            self._read_at = float("-inf")  # re-read: the case's state changed
        return ok


def fixed_cameras(configs: Callable[[], Mapping[str, CameraSettings]], ttl_s: float = 10.0,
                  monotonic: Callable[[], float] = time.monotonic) -> Callable[[str], bool]:
    """``fixed(camera_id)`` for CaseService and ClearWatch: a known camera that does not move. ``configs`` (the
    camera registry's, by id) is read at most every ``ttl_s``: a camera added at run time is known soon after."""
    cache: dict[str, Any] = {"at": float("-inf"), "configs": {}}

    def fixed(camera_id: str) -> bool:
        if monotonic() - cache["at"] >= ttl_s:
            try:
                cache["configs"] = dict(configs())
            except Exception as exc:  # noqa: BLE001 - the last known cameras serve until the registry reads again
                log.warning("camera registry not readable: %s", exc)
            cache["at"] = monotonic()
        cam = cache["configs"].get(camera_id)
        return cam is not None and not is_mobile(cam)

    return fixed
