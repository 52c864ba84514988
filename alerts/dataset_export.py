"""`gridwatch dataset export`: operators' verdicts as a YOLO-format dataset for training a city's own detector.

Each verdict with a crop (``alerts.observed``: the raw frame around the box, no drawing on it) becomes one image:
a confirmed alert is a labelled box of its category's class, a rejected one a background image (an empty label
file: "nothing to find here"). The box is placed in the crop by the crop's own geometry (the box widened by
``CROP_MARGIN`` on each side, cut at the picture's border), worked out in the snapshot's pixels, which are the
frame's up to one scale: YOLO labels are fractions, so the scale drops out.

Train and val are split by place, so no place is on both sides (a model would otherwise be judged on views of
places it learned): a fixed camera's verdicts are one place, a patrol car's are grouped by a cell of about
``PLACE_CELL_DEG`` of latitude and longitude; a stable hash of the place picks its side.
"""
from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy.engine import Engine

from alerts import verdicts
from alerts.observed import CROP_MARGIN
from gridwatch.categories import CATEGORIES

PLACE_CELL_DEG = 0.001  # about 110 m of latitude
VAL_SHARE = 0.2
Progress = Callable[[int, int], None]


class DatasetError(ValueError):
    """The output folder is not empty (and --force was not given), or there is nothing to export."""


@dataclass
class ExportSummary:
    classes: list[str]
    images: Counter[str] = field(default_factory=Counter)  # split -> images
    boxes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (split, category) -> labelled boxes
    backgrounds: Counter[str] = field(default_factory=Counter)  # split -> rejected alerts' images
    skipped: int = 0  # verdicts without a readable crop or snapshot
    places: Counter[str] = field(default_factory=Counter)  # split -> places


def place_of(v: verdicts.Verdict) -> str:
    if v.lat is None or v.lon is None:
        return f"camera:{v.camera_id}"
    return f"cell:{round(v.lat / PLACE_CELL_DEG)}:{round(v.lon / PLACE_CELL_DEG)}"


def split_of(place: str) -> str:
    h = int.from_bytes(hashlib.blake2b(place.encode(), digest_size=4).digest(), "big")
    return "val" if h % 1000 < VAL_SHARE * 1000 else "train"


def box_in_crop(bbox: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """The box as YOLO's (cx, cy, w, h) fractions of its crop; ``bbox`` and the picture size in one scale."""
    bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
    x1, y1 = max(0.0, bbox[0] - bw * CROP_MARGIN), max(0.0, bbox[1] - bh * CROP_MARGIN)
    x2, y2 = min(float(width), bbox[2] + bw * CROP_MARGIN), min(float(height), bbox[3] + bh * CROP_MARGIN)
    cw, ch = max(1e-6, x2 - x1), max(1e-6, y2 - y1)
    bx1, by1 = max(bbox[0], x1), max(bbox[1], y1)
    bx2, by2 = min(bbox[2], x2), min(bbox[3], y2)
    return ((bx1 + bx2) / 2 - x1) / cw, ((by1 + by2) / 2 - y1) / ch, (bx2 - bx1) / cw, (by2 - by1) / ch


def check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise DatasetError(f"{out} exists and is not empty; choose an empty folder or add --force to replace "
                               "its images/, labels/ and data.yaml")
        for name in ("images", "labels"):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / "data.yaml").unlink(missing_ok=True)


def export(engine: Engine, media_dir: Path, out: Path, since: datetime | None, force: bool = False,
           progress: Progress | None = None) -> ExportSummary:
    check_out(out, force)
    rows = [v for v in verdicts.load(engine, since=since) if v.crop_path and v.snapshot_path and v.bbox]
    if not rows:
        raise DatasetError("no verdicts with a crop to export" + (f" since {since:%Y-%m-%d}" if since else ""))
    classes = sorted({v.category for v in rows if v.real})
    summary = ExportSummary(classes)
    places: dict[str, set[str]] = {"train": set(), "val": set()}
    for n, v in enumerate(rows, start=1):
        assert v.crop_path and v.snapshot_path and v.bbox
        crop, snap = media_dir / v.crop_path, media_dir / v.snapshot_path
        try:
            with Image.open(snap) as im:  # the header only: the snapshot's size, the scale of the verdict's box
                w, h = im.size
        except OSError:
            w = h = 0
        if not crop.is_file() or not w:
            summary.skipped += 1
            continue
        place = place_of(v)
        side = split_of(place)
        places[side].add(place)
        stem = f"{v.category}_{v.id}"
        (out / "images" / side).mkdir(parents=True, exist_ok=True)
        (out / "labels" / side).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crop, out / "images" / side / f"{stem}.jpg")
        line = ""
        if v.real:
            cx, cy, bw, bh = box_in_crop(v.bbox, w, h)
            line = f"{classes.index(v.category)} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n"
            summary.boxes[(side, v.category)] += 1
        else:
            summary.backgrounds[side] += 1
        (out / "labels" / side / f"{stem}.txt").write_text(line, encoding="utf-8")
        summary.images[side] += 1
        if progress:
            progress(n, len(rows))
    names = "\n".join(f"  {i}: '{c} {CATEGORIES[c].name_en if c in CATEGORIES else c}'"
                      for i, c in enumerate(classes))
    origin = f" from {since:%Y-%m-%d} on" if since else ""
    (out / "data.yaml").write_text(f"# GridWatch operators' verdicts{origin} (gridwatch dataset export)\n"
                                   f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n",
                                   encoding="utf-8")
    summary.places.update({side: len(p) for side, p in places.items()})
    return summary
