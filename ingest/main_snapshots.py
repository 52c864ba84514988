"""Alert snapshots from the main stream, for cameras whose vision runs on a detection sub-stream.

Vision decided an issue on a small detection-stream frame; the operator should see it sharp. For an event of a
``DualStreamReader`` camera, ``MainSnapshots.apply(event)`` decodes the main-stream picture captured at the
snapshot's time from the camera's packet buffer (``ingest.stream_roles.decode_at``: its GOP, on demand), puts
it in the event, and scales the box to its pixels. So the stored alert's snapshot, its box and its clip (cut
from the same buffer) are all in main-stream pixels. An event of any other camera passes unchanged.

The decode runs once per issue (the sink stores an issue's first event only); later events of the same issue
get the box scaled and the small frame enlarged, which costs about a millisecond. When the main stream has no
picture for that time (not connected yet, or it lags more than ``wait_seconds``), the detection frame is
enlarged to the main stream's size, so the box still matches the clip.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Mapping

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.types import IssueEvent, Phase
from ingest.recorder import ClipError
from ingest.stream_roles import DualStreamReader, decode_at

log = logging.getLogger(__name__)

REMEMBER_EVENTS = 1024
WAIT_S = 1.0

Box = tuple[float, float, float, float]


def scale_box(bbox: Box, src: tuple[int, int], dst: tuple[int, int]) -> Box:
    """``bbox`` (xyxy) in an image of size ``src`` (w, h) -> the same box in an image of size ``dst``."""
    sx, sy = dst[0] / src[0], dst[1] / src[1]
    return (bbox[0] * sx, bbox[1] * sy, bbox[2] * sx, bbox[3] * sy)


class MainSnapshots:
    """``MainSnapshots(readers).apply(event)``: the event with its snapshot and box in main-stream pixels."""

    def __init__(self, readers: Mapping[str, object], wait_seconds: float = WAIT_S) -> None:
        self._readers = readers
        self.wait_seconds = wait_seconds
        self._done: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.decoded = 0  # snapshots decoded from a main stream
        self.enlarged = 0  # events given the enlarged detection frame instead

    def apply(self, event: IssueEvent) -> IssueEvent:
        reader = self._readers.get(event.camera_id)
        if not isinstance(reader, DualStreamReader) or event.snapshot is None:
            return event
        small = event.snapshot
        src = (small.shape[1], small.shape[0])
        picture: npt.NDArray[np.uint8] | None = None
        if event.event_id not in self._done and event.phase is not Phase.END:
            self._remember(event.event_id)
            picture = self._decode(reader, event)
        if picture is not None:
            self.decoded += 1
        else:
            size = reader.main.size
            if size is None or size == src:
                return event  # no main stream seen yet: the detection frame is all there is
            picture = np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
            self.enlarged += 1
        dst = (picture.shape[1], picture.shape[0])
        return dataclasses.replace(event, snapshot=picture, bbox=scale_box(event.bbox, src, dst))

    def _remember(self, event_id: str) -> None:
        self._done[event_id] = None
        while len(self._done) > REMEMBER_EVENTS:
            self._done.popitem(last=False)

    def _decode(self, reader: DualStreamReader, event: IssueEvent) -> npt.NDArray[np.uint8] | None:
        at = (event.snapshot_at or event.last_seen).timestamp()
        buffer = reader.main_buffer
        if not buffer.wait_for(at, self.wait_seconds):
            log.info("camera %s: main stream has no picture at the snapshot's time yet; enlarging the detection "
                     "frame", event.camera_id)
            return None
        try:
            return decode_at(buffer, at)
        except ClipError as exc:
            log.warning("camera %s: main-stream snapshot failed (%s); enlarging the detection frame",
                        event.camera_id, exc)
            return None
