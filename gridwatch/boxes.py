"""A frame's detection boxes for the wall's live video overlay, published by the worker on Redis pub/sub.

The worker publishes every frame vision looked at (``ingest.detect_fps`` per camera) on ``channel(camera)``; the
dashboard's live video server (``dashboard.live``) forwards them to the pages playing that camera, which draw each
set over the video frame captured at ``t`` (both sides reckon capture time from the stream's own timestamps,
``ingest.clock``). Boxes are in 0..1 of the frame, so they fit the main stream although vision may look at a smaller
detection stream. Pub/sub, not a stream: a box set nobody draws within a fraction of a second is worthless.
"""
from __future__ import annotations

import json

from gridwatch import keys
from gridwatch.types import Detections, Frame

PREFIX = keys.BOXES_PREFIX
channel = keys.boxes_channel


def encode(frame: Frame, dets: Detections) -> str:
    """``{"type": "boxes", "t": capture time (Unix s), "boxes": [[x1, y1, x2, y2, class name, confidence], ...]}``."""
    h, w = frame.image.shape[:2]
    boxes = [
        [round(float(x1) / w, 4), round(float(y1) / h, 4), round(float(x2) / w, 4), round(float(y2) / h, 4),
         name, round(float(conf), 2)]
        for (x1, y1, x2, y2), name, conf in zip(dets.xyxy, dets.class_name, dets.confidence, strict=True)
    ]
    return json.dumps({"type": "boxes", "t": frame.captured_at.timestamp(), "boxes": boxes}, ensure_ascii=False)
