"""CPU per decoded 720p25 H.264 frame by decoder setting: frame threads, one thread, deblocking skipped.

Run: ``.venv/bin/python -m bench.decode_bench`` (≈2 min). Two 720p clips made from ../shared with ffmpeg (the
town-centre video scaled down, the synthetic park drive-by), 750 frames each, every fifth converted to BGR as
the camera reader does; the settings take turns for ``--rounds`` rounds and the median counts. Prints one JSON
line per setting and clip; results in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import av

from gridwatch.settings import IngestSettings
from gridwatch.settings.paths import SHARED_DIR
from ingest.reader import configure_decoder

SETTINGS = {
    "frame threads (decode_threads=0)": IngestSettings(decode_threads=0),
    "one thread (decode_threads=1, default)": IngestSettings(),
    "one thread + skip_deblocking": IngestSettings(skip_deblocking=True),
}


def _clips(tmp: Path) -> dict[str, Path]:
    from demo.driveby import scene_photo, write_clip

    town = tmp / "town.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SHARED_DIR / "video" /
                    "towncentre_street_pedestrians_1080p.mp4"), "-vf", "scale=1280:720", "-r", "25",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-bf", "0", "-an", str(town)], check=True)
    photo, spec = scene_photo("park", SHARED_DIR / "images")
    park = write_clip(photo, tmp / "park.mp4", spec)
    looped = {}
    for name, clip in (("town-centre", town), ("park drive-by", park)):
        looped[name] = tmp / f"{clip.stem}-long.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "9", "-i", str(clip), "-c", "copy",
                        str(looped[name])], check=True)
    return looped


def decode_cost(path: Path, ingest: IngestSettings, frames: int) -> tuple[int, float]:
    """Frames decoded and CPU ms per frame (this process, all threads)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        configure_decoder(stream, ingest)
        before = resource.getrusage(resource.RUSAGE_SELF)
        n = 0
        for frame in container.decode(stream):
            n += 1
            if n % 5 == 0:
                frame.to_ndarray(format="bgr24")
            if n >= frames:
                break
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return n, 1000 * cpu / max(1, n)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=750)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clips = _clips(Path(tmp))
        for name, clip in clips.items():
            decode_cost(clip, IngestSettings(), 50)  # warm caches
            cpu: dict[str, list[float]] = {label: [] for label in SETTINGS}
            wall: dict[str, list[float]] = {label: [] for label in SETTINGS}
            for _ in range(args.rounds):
                for label, ingest in SETTINGS.items():
                    t = time.perf_counter()
                    n, ms = decode_cost(clip, ingest, args.frames)
                    cpu[label].append(ms)
                    wall[label].append(1000 * (time.perf_counter() - t) / n)
            for label in SETTINGS:
                sys.stdout.write(json.dumps({
                    "clip": name, "decoder": label, "frames": args.frames, "rounds": args.rounds,
                    "cpu_ms_per_frame": round(statistics.median(cpu[label]), 2),
                    "cpu_ms_min_max": [round(min(cpu[label]), 2), round(max(cpu[label]), 2)],
                    "wall_ms_per_frame": round(statistics.median(wall[label]), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
