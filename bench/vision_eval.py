"""Vision quality: precision and recall per issue category on hand-labelled stills and clips.

    python -m bench.vision_eval            # all stills and clips of bench/labels/*.json

Every source goes through ``vision.analyze.analyze`` (the ``gridwatch analyze`` pipeline: detector, tracker,
pose, rules) with default settings, except the dwell times of bench/labels/clips.json ("rules"), shortened
because the shared clips last seconds. An event is a true positive when it lands on a labelled person who
sits or lies (vagrancy, 0502) and that person has no event yet; everything else is a false positive. For
stalls (0501) no positive example exists offline, so only false alarms can be counted.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridwatch.settings import REPO_ROOT, SHARED_DIR, Settings, load_settings
from vision.stacking import FRAMES_PER_INPUT

log = logging.getLogger("bench.vision_eval")

LABELS = REPO_ROOT / "bench" / "labels"
CATEGORIES = ("0502", "0501")
GROUND_POSTURES = {"sitting", "lying"}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    positives: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.positives += other.positives

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None


@dataclass
class SourceResult:
    name: str
    kind: str
    scores: dict[str, Score] = field(default_factory=dict)
    note: str = ""


Person = tuple[float, float, str]  # centre x, centre y (photo pixels), posture


def match_persons(boxes: list[tuple[float, float, float, float]], persons: list[Person]) -> Score:
    """Vagrancy events (boxes in photo pixels) against labelled persons: one TP per sitting/lying person."""
    positives = [i for i, p in enumerate(persons) if p[2] in GROUND_POSTURES]
    matched: set[int] = set()
    score = Score(positives=len(positives))
    for x1, y1, x2, y2 in boxes:
        sx, sy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
        inside = [i for i, (cx, cy, _) in enumerate(persons)
                  if x1 - sx <= cx <= x2 + sx and y1 - sy <= cy <= y2 + sy]
        bx, by = (x1 + x2) / 2, (y1 + y2) / 2
        inside.sort(key=lambda i: (persons[i][0] - bx) ** 2 + (persons[i][1] - by) ** 2)
        hit = next((i for i in inside if i in positives and i not in matched), None)
        if hit is None:
            score.fp += 1
        else:
            matched.add(hit)
            score.tp += 1
    score.fn = len(positives) - len(matched)
    return score


def _persons(name: str) -> list[Person]:
    data = json.loads((LABELS / "stills.json").read_text(encoding="utf-8"))["images"][name]["persons"]
    return [(float(p["centre"][0]), float(p["centre"][1]), str(p["posture"])) for p in data]


def _analyze(source: str, settings: Settings, mobile: bool | None, detector: Any, pose: Any,
             max_seconds: float | None = None, per_input: int = 1) -> list[dict[str, Any]]:
    from vision.analyze import analyze

    out = io.StringIO()
    with tempfile.TemporaryDirectory() as snaps:
        analyze(source, settings, out, Path(snaps), mobile=mobile, max_seconds=max_seconds, progress=False,
                detector=detector, pose=pose, per_input=per_input)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [r for r in rows if not r.get("summary")]


def _count_only(events: list[dict[str, Any]], positives: dict[str, int]) -> dict[str, Score]:
    scores = {}
    for code in CATEGORIES:
        n = sum(1 for e in events if e["code"] == code)
        want = positives.get(code, 0)
        scores[code] = Score(tp=min(n, want), fp=max(0, n - want), fn=max(0, want - n), positives=want)
    return scores


def eval_stills(settings: Settings, detector: Any, pose: Any) -> list[SourceResult]:
    labels = json.loads((LABELS / "stills.json").read_text(encoding="utf-8"))["images"]
    results = []
    for name, spec in labels.items():
        events = _analyze(str(SHARED_DIR / "images" / name), settings, None, detector, pose)
        boxes = [tuple(e["bbox"]) for e in events if e["code"] == "0502"]
        scores = {"0502": match_persons(boxes, _persons(name)),  # type: ignore[arg-type]
                  "0501": _count_only(events, spec["issues"])["0501"]}
        results.append(SourceResult(name, "still", scores))
        log.info("%s: %s", name, scores)
    return results


def _to_photo(box: Sequence[float], frame_index: int, photo_size: tuple[int, int], spec: Any,
              row_offset: int) -> tuple[float, float, float, float]:
    import cv2

    from vision.driveby import homography

    inverse = np.linalg.inv(homography(photo_size, spec, frame_index))
    x1, y1, x2, y2 = box
    corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], dtype=np.float64)
    pts = cv2.perspectiveTransform(corners, inverse)[0]
    return (float(pts[:, 0].min()), float(pts[:, 1].min()) + row_offset,
            float(pts[:, 0].max()), float(pts[:, 1].max()) + row_offset)


def eval_clips(settings: Settings, detector: Any, pose: Any, tmp: Path, per_input: int = 1) -> list[SourceResult]:
    from vision.driveby import scene_photo, write_clip

    data = json.loads((LABELS / "clips.json").read_text(encoding="utf-8"))
    short = settings.model_copy(update={"rules": settings.rules.model_copy(update=data["rules"])})
    results = []
    for name, spec in data["clips"].items():
        mobile = spec["mode"] == "patrol"
        if "scene" in spec:
            photo, drive = scene_photo(spec["scene"], SHARED_DIR / "images")
            source = write_clip(photo, tmp / f"{name}.mp4", drive)
        else:
            source = SHARED_DIR / spec["file"]
        events = _analyze(str(source), short, mobile, detector, pose, spec.get("seconds"), per_input)
        scores = _count_only(events, spec["positives"])
        if "labels_from" in spec:
            boxes = [_to_photo(e["bbox"], round(e["snapshot_s"] * drive.fps), (photo.shape[1], photo.shape[0]),
                               drive, spec["row_offset"]) for e in events if e["code"] == "0502"]
            scores["0502"] = match_persons(boxes, _persons(spec["labels_from"]))
        results.append(SourceResult(name, f"clip ({spec['mode']})", scores, spec.get("note", "")))
        log.info("%s: %s", name, scores)
    return results


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def markdown(results: list[SourceResult]) -> str:
    lines = ["| source | kind | 0502 TP | FP | FN | precision | recall | 0501 FP |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    totals = {c: Score() for c in CATEGORIES}
    for r in results:
        v, s = r.scores["0502"], r.scores["0501"]
        for c in CATEGORIES:
            totals[c].add(r.scores[c])
        lines.append(f"| {r.name} | {r.kind} | {v.tp} | {v.fp} | {v.fn} | {_fmt(v.precision)} | {_fmt(v.recall)} "
                     f"| {s.fp} |")
    v, s = totals["0502"], totals["0501"]
    lines.append(f"| **all** | | {v.tp} | {v.fp} | {v.fn} | {_fmt(v.precision)} | {_fmt(v.recall)} | {s.fp} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vision_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    parser.add_argument("--stack", type=int, choices=FRAMES_PER_INPUT, default=1,
                        help="frames per model input, as a loaded live worker stacks them (vision.stacking); "
                             "gridwatch analyze uses 1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("ultralytics", "vision", "gridwatch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from vision.pose import PoseEstimator
    from vision.yolo import Detector

    settings = load_settings(None)
    detector = Detector(settings.vision)
    pose = PoseEstimator(settings.vision)
    with tempfile.TemporaryDirectory() as tmp:
        results = eval_stills(settings, detector, pose) + eval_clips(settings, detector, pose, Path(tmp), args.stack)
    table = markdown(results)
    sys.stdout.write(table + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(
            {r.name: {c: vars(s) for c, s in r.scores.items()} for r in results}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
