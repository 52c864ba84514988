"""What the pipeline saw for an alert, stored beside it: a crop of the snapshot around the box, and the rule's
evidence (features, keypoints, nearby detections) with the verdict filter's score.

The sink writes it right after the alert; ``alerts.verdicts`` copies it into an operator's verdict.
"""
from __future__ import annotations

import json
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.db import write_transaction
from alerts.models import AlertEvidenceRow
from gridwatch.types import Evidence

_EVIDENCE = cast(sa.Table, AlertEvidenceRow.__table__)
CROP_MARGIN = 0.25  # of the box's size on each side: the crop shows what is around the person or stall
CROP_MAX_SIDE = 320
JPEG_QUALITY = 85


def crop_jpeg(image: npt.NDArray[np.uint8], bbox: tuple[float, float, float, float]) -> bytes | None:
    """JPEG of the box with a margin, at most ``CROP_MAX_SIDE`` pixels on its longer side; None for an empty box."""
    h, w = image.shape[:2]
    bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
    x1, y1 = max(0, int(bbox[0] - bw * CROP_MARGIN)), max(0, int(bbox[1] - bh * CROP_MARGIN))
    x2, y2 = min(w, int(bbox[2] + bw * CROP_MARGIN + 1)), min(h, int(bbox[3] + bh * CROP_MARGIN + 1))
    if x2 <= x1 or y2 <= y1:
        return None
    crop = image[y1:y2, x1:x2]
    scale = min(1.0, CROP_MAX_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA).astype(np.uint8, copy=False)
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buf.tobytes() if ok else None


def store(engine: Engine, alert_id: str, crop_path: str | None, evidence: Evidence | None,
          likely_real: float | None, filter_id: int | None) -> None:
    e = evidence or Evidence()
    nearby = [{"class": n.class_name, "confidence": n.confidence, "bbox": list(n.bbox)} for n in e.nearby]
    with write_transaction(engine) as conn:
        conn.execute(sa.insert(_EVIDENCE).values(
            alert_id=alert_id, crop_path=crop_path, features=json.dumps(e.feature_map()),
            keypoints=json.dumps([list(k) for k in e.keypoints]), nearby=json.dumps(nearby, ensure_ascii=False),
            likely_real=likely_real, filter_id=filter_id,
        ))
