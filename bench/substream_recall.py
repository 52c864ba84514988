"""Vision quality at a detection sub-stream's resolution, beside the full-size figures (issue 15).

    python -m bench.substream_recall [--skip-clips] [--json out.json]

Runs ``bench.vision_eval``'s real-still and park rows twice in one process: once as they are (full size), once
with every picture vision gets shrunk to fit 640x360 first, as a camera's detection sub-stream delivers it
(stills: the photo fitted into 640x360; clips: each drive-by re-encoded at 640x360 from its 1280x720 frames).
Event boxes of the small pictures are scaled back to the original pixels before they are matched to the
labels, as ``ingest.main_snapshots`` scales an alert's box to the main stream. Everything else (labels,
matching, rules, models) is ``bench.vision_eval``'s.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import vision_eval

log = logging.getLogger("bench.substream_recall")

SUB = (640, 360)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _fit(w: int, h: int) -> float:
    return min(1.0, SUB[0] / w, SUB[1] / h)


def _shrink_clip(src: Path, out: Path) -> float:
    """Re-encode ``src`` at the sub-stream size (x264, a keyframe a second); the scale applied."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        scale = _fit(stream.codec_context.width, stream.codec_context.height)
        size = (round(stream.codec_context.width * scale) // 2 * 2, round(stream.codec_context.height * scale) // 2 * 2)
        rate = stream.average_rate or 25
        with av.open(str(out), "w") as dst:
            enc = dst.add_stream("libx264", rate=rate)
            enc.width, enc.height, enc.pix_fmt = size[0], size[1], "yuv420p"
            enc.options = {"g": str(round(float(rate))), "bf": "0"}
            for frame in inp.decode(stream):
                small = np.ascontiguousarray(
                    cv2.resize(frame.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
                for pkt in enc.encode(av.VideoFrame.from_ndarray(small, format="bgr24")):
                    dst.mux(pkt)
            for pkt in enc.encode(None):
                dst.mux(pkt)
    return scale


@contextlib.contextmanager
def substream_resolution(tmp: Path) -> Iterator[None]:
    """While active, ``vision_eval`` analyses every source shrunk to the sub-stream size (boxes scaled back)."""
    original = vision_eval._analyze  # noqa: SLF001 - the one seam of the eval's pipeline

    def shrunk(source: str, settings: Any, mobile: bool, detector: Any, pose: Any) -> list[dict[str, Any]]:
        path = Path(source)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(path))
            if image is None:
                raise OSError(f"cannot read {path}")
            scale = _fit(image.shape[1], image.shape[0])
            small = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA) if scale < 1 else image
            target = tmp / f"sub-{path.stem}.png"
            cv2.imwrite(str(target), small)
        else:
            target = tmp / f"sub-{path.stem}.mp4"
            scale = _shrink_clip(path, target)
        events = original(str(target), settings, mobile, detector, pose)
        for e in events:
            if e.get("bbox") is not None:
                e["bbox"] = [v / scale for v in e["bbox"]]
        return events

    vision_eval._analyze = shrunk  # type: ignore[assignment]  # noqa: SLF001
    try:
        yield
    finally:
        vision_eval._analyze = original  # type: ignore[assignment]  # noqa: SLF001


def run(clips: bool) -> dict[str, list[Any]]:
    from gridwatch.settings import load_settings
    from vision.pose import PoseEstimator
    from vision.yolo import Detector

    settings = load_settings(None)
    detector = Detector(settings.vision)
    pose = PoseEstimator(settings.vision)
    out: dict[str, list[Any]] = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name in ("full", "substream"):
            ctx = substream_resolution(tmp) if name == "substream" else contextlib.nullcontext()
            with ctx:
                rows = vision_eval.eval_real(settings, detector, pose, tmp, clips=clips)
                if clips:
                    rows += vision_eval.eval_park(settings, detector, pose, tmp)
            out[name] = rows
            log.info("%s done", name)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.substream_recall", description=__doc__.split("\n")[0])
    parser.add_argument("--skip-clips", action="store_true", help="stills only")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("ultralytics", "vision", "gridwatch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result = run(clips=not args.skip_clips)
    table = []
    for name, rows in result.items():
        sys.stdout.write(f"\n### {name}\n\n{vision_eval.markdown(rows, [])}\n")
        for r in rows:
            table.append({"resolution": name, "code": r.code, "material": r.material, "half": r.half,
                          "judgement": r.judgement, **vars(r.score)})
    if args.json is not None:
        args.json.write_text(json.dumps(table, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
