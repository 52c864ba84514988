"""Learning from verdicts: how much the verdict filter keeps off the wall, measured on verdicts it never saw.

    python -m bench.learn_eval                 # the real verdict set, then the training cost (several minutes)
    python -m bench.learn_eval --skip-real     # only the training time and memory for 1,000 / 5,000 / 20,000 rows

The verdict set is built from what the real pipeline raises on the real photos of ../shared/eval (referenced,
never copied) with the hand labels of bench/labels/eval.json standing in for the operators:

* every photo through ``vision.analyze`` (detector, tracker, pose, rules) as a still, and as two SYNTHETIC
  drive-bys of it (``demo.driveby``: a patrol car's pass and a fixed camera's view, as bench.vision_eval
  makes them); a drive-by event's box is mapped back into the photo through the clip's known camera path;
* under two rule sets: the defaults, and a more sensitive one a city might run (``seated`` counted as a
  vagrant's posture, so people resting on benches and walls are raised; a stall needs no key object);
* an event matching a hand-drawn box (bench.vision_eval's matching) is a confirmed verdict, one on an
  'ignore' box is left out, every other event is a rejected one (a false alarm);
* plus the demo's park scenes (``demo.driveby`` scenes park and park-sitter of the shared park photo, as
  bench/labels/clips.json labels them: people seated on walls and chairs, nobody a vagrant, no stall), where every
  event is a false alarm; the park photo is one scene of its own.

Held apart by scene: each verdict is scored by a filter trained without any verdict of its scene
(split.tsv's scene column: one photographer's or one place's photos together), grouped K-fold, so a filter
never scores a view of a photo it learned from. The training cost is measured on synthetic feature rows
drawn around the real rows (said so in the output), as a city's 20,000 verdicts do not exist offline.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.vision_eval import EVAL_DIR, LABELS, _boxes, driveby_spec, load_labels, match_boxes
from gridwatch.settings import Settings, load_settings
from vision.verdict_filter import TrainingError, VerdictModel, quality, train

log = logging.getLogger("bench.learn_eval")

CATEGORIES = {"0502": "vagrancy", "0501": "stall"}
THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
SCALES = (1_000, 5_000, 20_000)
FOLDS = 5
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Row:
    photo: str
    scene: str
    material: str  # still, patrol, fixed
    rules: str  # default, sensitive
    category: str
    real: bool
    features: dict[str, float]


def _settings_variants(base: Settings) -> dict[str, Settings]:
    sensitive = base.rules.model_copy(update={
        "vagrant_postures": ("lying", "sitting", "seated"), "stall_key_classes": (),
    })
    return {"default": base, "sensitive": base.model_copy(update={"rules": sensitive})}


def _events(source: str, settings: Settings, mobile: bool, detector: Any, pose: Any) -> list[dict[str, Any]]:
    from vision.analyze import analyze

    out = io.StringIO()
    with tempfile.TemporaryDirectory() as snaps:
        analyze(source, settings, out, Path(snaps), mobile=mobile, progress=False, detector=detector, pose=pose)
    return [r for r in (json.loads(line) for line in out.getvalue().splitlines() if line.strip())
            if not r.get("summary")]


def _to_photo(bbox: Sequence[float], photo_size: tuple[int, int], spec: Any, at_s: float | None) -> Box:
    """A drive-by frame's box in the photo's pixels, through the clip's known camera path."""
    import cv2

    from demo.driveby import frame_count, homography

    index = min(frame_count(spec) - 1, max(0, round((at_s or 0.0) * spec.fps)))
    inverse = np.linalg.inv(homography(photo_size, spec, index))
    corners = np.array([[[bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]]]],
                       dtype=np.float64)
    pts = cv2.perspectiveTransform(corners, inverse)[0]
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


def _label(category: str, box: Box, spec: dict[str, Any]) -> bool | None:
    """True: an operator confirms it; False: a false alarm; None: an 'ignore' box (left out)."""
    positives = _boxes(spec, CATEGORIES[category])
    ignore = _boxes(spec, "ignore") if category == "0502" else []
    s = match_boxes([box], positives, ignore)  # type: ignore[list-item]
    if s.tp:
        return True
    return False if s.fp else None


def _models(base: Settings) -> tuple[Any, Any]:
    from vision.pose import PoseEstimator
    from vision.yolo import Detector

    detector = Detector(base.vision)
    pose = PoseEstimator(base.vision) if base.vision.pose_model is not None and detector.task != "pose" else None
    return detector, pose


def _fixed(settings: Settings) -> Settings:
    return settings.model_copy(update={"rules": settings.rules.model_copy(
        update={"vagrant_dwell_seconds": 2.0, "stall_seconds": 3.0})})


def park_verdicts(base: Settings, tmp: Path) -> list[Row]:
    """The demo's park scenes: every event a false alarm (clips.json: nobody there is a vagrant or a stall)."""
    import cv2

    from demo.driveby import scene_photo, write_clip
    from gridwatch.settings.paths import SHARED_DIR

    detector, pose = _models(base)
    rows: list[Row] = []
    photo_path = SHARED_DIR / "images" / "streetview_people_sitting_park.jpg"
    for scene in ("park", "park-sitter"):
        photo, spec = scene_photo(scene, SHARED_DIR / "images")
        clip = write_clip(photo, tmp / f"{scene}.mp4", spec)
        for rules_name, settings in _settings_variants(base).items():
            sources = [("patrol", str(clip), settings, True), ("fixed", str(clip), _fixed(settings), False)]
            if scene == "park" and cv2.haveImageReader(str(photo_path)):
                sources.append(("still", str(photo_path), settings, True))
            for material, source, cfg, mobile in sources:
                for e in _events(source, cfg, mobile, detector, pose):
                    if e["code"] in CATEGORIES and e.get("features"):
                        rows.append(Row(f"scene:{scene}", "park-plaza", material, rules_name, e["code"], False,
                                        e["features"]))
        sys.stderr.write(f"  scene {scene}: {len(rows)} verdicts so far\n")
    return rows


def verdict_set(base: Settings, tmp: Path) -> list[Row]:
    import cv2

    from demo.driveby import write_clip

    photos, _halves = load_labels()
    with (LABELS / "split.tsv").open(encoding="utf-8") as f:
        scenes = {r["photo"]: r["scene"] for r in csv.DictReader(f, delimiter="\t")}
    detector, pose = _models(base)
    rows: list[Row] = []
    for n, (name, spec) in enumerate(sorted(photos.items()), start=1):
        path = EVAL_DIR / name
        image = cv2.imread(str(path))
        if image is None:
            raise FileNotFoundError(f"cannot read {path}")
        size = (image.shape[1], image.shape[0])
        drive = driveby_spec(image.shape, _boxes(spec, "vagrancy") + _boxes(spec, "stall"))
        clip = write_clip(np.asarray(image, dtype=np.uint8), tmp / "clip.mp4", drive)
        for rules_name, settings in _settings_variants(base).items():
            for material, source, cfg, mobile in (("still", str(path), settings, True),
                                                  ("patrol", str(clip), settings, True),
                                                  ("fixed", str(clip), _fixed(settings), False)):
                for e in _events(source, cfg, mobile, detector, pose):
                    if e["code"] not in CATEGORIES or not e.get("features"):
                        continue
                    box = tuple(e["bbox"]) if material == "still" else _to_photo(e["bbox"], size, drive,
                                                                                 e.get("snapshot_s"))
                    real = _label(e["code"], box, spec)  # type: ignore[arg-type]
                    if real is not None:
                        rows.append(Row(name, scenes.get(name, name), material, rules_name, e["code"], real,
                                        e["features"]))
        sys.stderr.write(f"  [{n}/{len(photos)}] {name}: {len(rows)} verdicts so far\n")
    return rows


@dataclass
class Held:
    scores: list[float]
    labels: list[bool]
    rows: list[Row]
    skipped_folds: int = 0


def held_apart_scores(rows: list[Row], category: str, min_per_class: int = 2) -> Held:
    """Each row scored by a filter trained on the other scenes only (grouped K-fold over scenes)."""
    mine = [r for r in rows if r.category == category]
    scenes = sorted({r.scene for r in mine})
    folds = [scenes[i::FOLDS] for i in range(min(FOLDS, len(scenes)))]
    out = Held([], [], [])
    for fold in folds:
        test = [r for r in mine if r.scene in fold]
        learn_from = [r for r in mine if r.scene not in fold]
        try:
            if sum(r.real for r in learn_from) < min_per_class or sum(not r.real for r in learn_from) < min_per_class:
                raise TrainingError("too few of one kind in this fold")
            model = train(category, [r.features for r in learn_from], [r.real for r in learn_from])
        except TrainingError:
            out.skipped_folds += 1
            continue
        out.scores += model.predict([r.features for r in test]).tolist()
        out.labels += [r.real for r in test]
        out.rows += test
    return out


def _end_to_end(feats: list[dict[str, float]], labels: list[bool], tmp: Path) -> dict[str, Any]:
    """What `gridwatch learn` does for these rows as verdicts in a SQLite file: read, split, train, judge, store."""
    from datetime import UTC, datetime, timedelta

    from alerts import verdicts
    from alerts.cases import CaseService, Observation
    from alerts.db import make_engine, migrate, write_transaction
    from alerts.verdict_learning import learn
    from geo.routing import GridRouter
    from gridwatch.settings import LearningSettings

    engine = make_engine(f"sqlite:///{tmp / f'verdicts-{len(feats)}.db'}")
    migrate(engine)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    [case] = CaseService(engine, GridRouter([])).ingest([Observation("0502", at, 34.8, 113.66)])
    with write_transaction(engine) as conn:
        verdicts.insert_many(conn, [{
            "case_id": case.case_id, "category": "0502", "real": real, "reason": "other",
            "at": at + timedelta(seconds=i), "actor": "bench", "role": "operator", "features": json.dumps(f),
            "keypoints": "[]", "nearby": "[]"} for i, (f, real) in enumerate(zip(feats, labels, strict=True))])
    began = time.perf_counter()
    [outcome] = learn(engine, LearningSettings())
    seconds = time.perf_counter() - began
    engine.dispose()
    return {"learn_seconds": round(seconds, 2), "stored": outcome.filter_id is not None}


def scaling(rows: list[Row]) -> list[dict[str, Any]]:
    """Training time and peak memory on synthetic rows drawn around the real ones (jittered resamples), and the
    whole `gridwatch learn` path on them as stored verdicts."""
    import resource

    rng = np.random.default_rng(0)
    base = [r for r in rows if r.category == "0502"] or rows
    names = sorted({k for r in base for k in r.features})
    real = np.array([[r.features.get(k, 0.0) for k in names] for r in base], dtype=np.float64)
    labels = np.array([r.real for r in base], dtype=bool)
    spread = real.std(axis=0) * 0.1 + 1e-3
    out = []
    for n in SCALES:
        pick = rng.integers(0, len(real), n)
        x = real[pick] + rng.normal(0.0, 1.0, (n, len(names))) * spread
        feats = [dict(zip(names, map(float, row), strict=True)) for row in x]
        tracemalloc.start()
        began = time.perf_counter()
        model: VerdictModel = train("0502", feats, labels[pick].tolist())
        seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        began = time.perf_counter()
        model.predict(feats[:1000])
        score_ms = (time.perf_counter() - began) * 1000 / 1000
        with tempfile.TemporaryDirectory() as tmp:
            whole = _end_to_end(feats, labels[pick].tolist(), Path(tmp))
        out.append({"rows": n, "train_seconds": round(seconds, 2), "train_peak_mib": round(peak / 2**20, 1),
                    "score_ms_per_alert": round(score_ms, 4), **whole,
                    "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
    return out


def report(rows: list[Row]) -> dict[str, Any]:
    result: dict[str, Any] = {"verdicts": {}, "held_apart": {}}
    for code in CATEGORIES:
        mine = [r for r in rows if r.category == code]
        by: dict[str, dict[str, int]] = {}
        for r in mine:
            key = f"{r.rules}/{r.material}"
            by.setdefault(key, {"confirmed": 0, "rejected": 0})["confirmed" if r.real else "rejected"] += 1
        result["verdicts"][code] = {"confirmed": sum(r.real for r in mine),
                                    "rejected": sum(not r.real for r in mine),
                                    "scenes": len({r.scene for r in mine}), "by_rules_and_material": by}
        held = held_apart_scores(rows, code)
        if not held.labels:
            result["held_apart"][code] = {"note": "too few verdicts of both kinds to hold any apart"}
            continue
        scores = np.asarray(held.scores)
        per: dict[str, Any] = {}
        for t in THRESHOLDS:
            q = quality(scores, held.labels, t)
            per[str(t)] = {**q.as_dict(), "false_off_rate": round(q.false_off_rate, 3),
                           "true_moved_rate": round(q.true_moved_rate, 3)}
        result["held_apart"][code] = {"scored": len(held.labels), "skipped_folds": held.skipped_folds,
                                      "by_threshold": per}
        # For contrast only: a filter scoring the very verdicts it learned from (what held-apart guards against).
        model = train(code, [r.features for r in mine], [r.real for r in mine])
        inside = model.predict([r.features for r in mine])
        result.setdefault("in_sample", {})[code] = {
            str(t): quality(inside, [r.real for r in mine], t).as_dict() for t in THRESHOLDS}
        distinct = {(r.photo, r.real) for r in mine}
        result["verdicts"][code]["distinct_photos_confirmed"] = sum(1 for _p, real in distinct if real)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skip-real", action="store_true", help="only the training cost on synthetic rows")
    p.add_argument("--rows-cache", type=Path, default=None,
                   help="a JSON file of the verdict set: read when it exists, else written (re-runs skip vision)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    began = time.perf_counter()
    import sklearn.calibration  # noqa: F401 - once per `gridwatch learn`; timed apart from training

    import_s = time.perf_counter() - began
    base = load_settings(None, demo={"enabled": False})
    rows: list[Row] = []
    if not args.skip_real or args.rows_cache:
        cached: dict[str, Any] = {}
        if args.rows_cache and args.rows_cache.is_file():
            cached = json.loads(args.rows_cache.read_text(encoding="utf-8"))
            cached = {"photos": cached} if isinstance(cached, list) else cached
        with tempfile.TemporaryDirectory() as tmp:
            if "photos" not in cached:
                cached["photos"] = [vars(r) for r in verdict_set(base, Path(tmp))]
            if "scenes" not in cached:
                cached["scenes"] = [vars(r) for r in park_verdicts(base, Path(tmp))]
        if args.rows_cache:
            args.rows_cache.write_text(json.dumps(cached), encoding="utf-8")
        rows = [Row(**r) for part in ("photos", "scenes") for r in cached[part]]
    out: dict[str, Any] = {}
    if not args.skip_real:
        out.update(report(rows))
    if not rows:
        rows = [Row("synthetic", "synthetic", "still", "default", "0502", bool(i % 2),
                    {"a": float(i % 2) + 0.1 * (i % 5), "b": float(i % 3)}) for i in range(40)]
        out["scaling_note"] = "no real verdicts loaded: scaling rows drawn around 40 made-up rows"
    out["scaling"] = scaling(rows)
    out["import_scikit_learn_seconds"] = round(import_s, 2)
    out["machine"] = {"cpus": os.cpu_count(), "load_average": [round(v, 1) for v in os.getloadavg()]}
    sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
