"""Boxes and labels on frames, and JPEG encoding, for the wall's live tiles and alert snapshots."""
from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch import textdraw
from gridwatch.i18n import N_, translator
from gridwatch.types import Detections

# Ultralytics' palette (RGB hex), so colours look familiar to anyone who knows YOLO's own plots.
_PALETTE_HEX = (
    "FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334", "00D4BB",
    "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF", "FF95C8", "FF37C7",
)
_PALETTE_BGR = tuple((int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)) for h in _PALETTE_HEX)


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable BGR colour for a class id."""
    return _PALETTE_BGR[int(class_id) % len(_PALETTE_BGR)]


# The COCO classes the street rules look at, marked for the catalogue so operators read them in Chinese.
CLASS_LABELS: tuple[str, ...] = (
    N_("person"), N_("umbrella"), N_("dining table"), N_("chair"), N_("bench"), N_("backpack"), N_("handbag"),
    N_("suitcase"), N_("bicycle"), N_("motorcycle"), N_("car"), N_("bus"), N_("truck"),
)


def label_text(dets: Detections, i: int, lang: str | None = None) -> str:
    """``行人 #7 0.83`` / ``person #7 0.83`` (no ``#`` part for untracked detections)."""
    tid = int(dets.track_id[i])
    track = f" #{tid}" if tid >= 0 else ""
    name = dets.class_name[i]
    if name in CLASS_LABELS:
        name = translator(lang).gettext(name)
    return f"{name}{track} {float(dets.confidence[i]):.2f}"


def draw(
    image: npt.NDArray[np.uint8], dets: Detections, labels: bool = True, lang: str | None = None
) -> npt.NDArray[np.uint8]:
    """A copy of a BGR image with each detection's box (and label, in ``lang``) drawn in its class colour."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"draw needs a BGR image (H, W, 3), got shape {image.shape}")
    out = image.copy()
    h, w = out.shape[:2]
    # Line and text size follow the picture size so 4K and thumbnail frames both stay readable.
    thickness = max(1, round((h + w) / 2 * 0.003))
    size = textdraw.label_size_for(out.shape)
    for i in range(len(dets)):
        x1, y1, x2, y2 = (int(round(float(v))) for v in dets.xyxy[i])
        colour = class_colour(int(dets.class_id[i]))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        if not labels:
            continue
        # OpenCV's fonts cannot draw Chinese; textdraw renders with Noto CJK (and caches the label).
        textdraw.draw_label(out, label_text(dets, i, lang), (x1, y1), size=size, bg=colour)
    return out


ISSUE_COLOUR_BGR = (0, 0, 255)  # an issue's box on its snapshot (alert, case, analyze): red, whatever its class


def draw_issue_box(image: npt.NDArray[np.uint8], box: tuple[int, int, int, int], label: str | None = None) -> None:
    """Outline one issue's ``box`` (pixels of ``image``) in red, in place, with ``label`` (any script) on its corner.

    The line is as wide as the picture is wide (at least 2 px); unlike ``draw``, one box and one colour, as the
    wall and the case pages show an issue's snapshot.
    """
    x1, y1, x2, y2 = box
    thickness = max(2, round(image.shape[1] / 400))
    cv2.rectangle(image, (x1, y1), (x2, y2), ISSUE_COLOUR_BGR, thickness)
    if label:
        textdraw.draw_label(image, label, (x1, y1), size=textdraw.label_size_for(image.shape), bg=ISSUE_COLOUR_BGR)


def to_jpeg(image: npt.NDArray[np.uint8], max_width: int = 960, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR image, downscaled (aspect kept) when wider than ``max_width``."""
    if max_width <= 0:
        raise ValueError(f"max_width must be positive, got {max_width}")
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"to_jpeg needs a non-empty image, got shape {image.shape}")
    h, w = image.shape[:2]
    if w > max_width:
        new_h = max(1, round(h * max_width / w))
        image = np.asarray(cv2.resize(image, (max_width, new_h), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()
