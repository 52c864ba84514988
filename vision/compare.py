"""Two settings on the same footage, their issues diffed: what a rule change would add or lose.

``gridwatch analyze CLIP --compare rules.patrol_min_frames=3`` analyses the footage with the settings (A) and
again with the ``--compare`` overrides on top (B), then writes one JSON line per issue: ``"diff": "both"`` (found
by both, A's and B's record side by side), ``"only_a"`` or ``"only_b"``, then a summary line with both runs'
summaries and the three counts. Issues of the two runs are the same issue when they have the same category code
and overlap in footage time (within ``TOLERANCE_S``), paired greedily by the longest overlap.
"""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gridwatch.settings import Settings

log = logging.getLogger(__name__)

TOLERANCE_S = 1.0  # footage seconds: the same issue confirmed a frame or two apart under the two settings

Record = dict[str, Any]


@dataclass(frozen=True)
class Diff:
    both: list[tuple[Record, Record]]
    only_a: list[Record]
    only_b: list[Record]


def _overlap(a: Record, b: Record) -> float:
    return min(float(a["last_s"]), float(b["last_s"])) - max(float(a["first_s"]), float(b["first_s"]))


def diff_events(a: Sequence[Record], b: Sequence[Record], tolerance_s: float = TOLERANCE_S) -> Diff:
    """Pair A's and B's issue records (same code, overlapping in time) and list the rest of each side."""
    pairs = sorted(
        ((_overlap(ra, rb), i, j) for i, ra in enumerate(a) for j, rb in enumerate(b)
         if ra["code"] == rb["code"] and _overlap(ra, rb) > -tolerance_s),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    both: list[tuple[Record, Record]] = []
    for _, i, j in pairs:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        both.append((a[i], b[j]))
    both.sort(key=lambda p: float(p[0]["first_s"]))
    return Diff(both=both, only_a=[r for i, r in enumerate(a) if i not in used_a],
                only_b=[r for j, r in enumerate(b) if j not in used_b])


def _run(source: str, settings: Settings, snapshots: Path, detector: Any, **kwargs: Any) -> tuple[list[Record], Record]:
    from vision.analyze import analyze

    buffer = io.StringIO()
    analyze(source, settings, buffer, snapshots, detector=detector, **kwargs)
    rows = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    return rows[:-1], rows[-1]


def compare(
    source: str,
    settings_a: Settings,
    settings_b: Settings,
    out: IO[str],
    snapshots: Path,
    overrides_b: Sequence[str] = (),
    *,
    mobile: bool | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
) -> Diff:
    """Analyse ``source`` under both settings (snapshots in ``snapshots``/a and /b) and write the diff to ``out``."""
    from vision.yolo import Detector

    detector_a = Detector(settings_a.vision)
    # One model load when the override leaves the detector alone (a rule change, the usual case).
    detector_b = detector_a if settings_b.vision.model_dump() == settings_a.vision.model_dump() else None
    common = {"mobile": mobile, "max_seconds": max_seconds, "progress": progress}
    events_a, summary_a = _run(source, settings_a, snapshots / "a", detector_a, **common)
    events_b, summary_b = _run(source, settings_b, snapshots / "b", detector_b, **common)
    result = diff_events(events_a, events_b)
    lines: list[tuple[float, Record]] = [(float(ra["first_s"]), {"diff": "both", "code": ra["code"], "a": ra, "b": rb})
                                         for ra, rb in result.both]
    lines += [(float(r["first_s"]), {"diff": "only_a", "code": r["code"], "a": r}) for r in result.only_a]
    lines += [(float(r["first_s"]), {"diff": "only_b", "code": r["code"], "b": r}) for r in result.only_b]
    for _, line in sorted(lines, key=lambda item: item[0]):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.write(json.dumps({
        "summary": True, "compare": True,
        "a": summary_a, "b": {**summary_b, "overrides": list(overrides_b)},
        "both": len(result.both), "only_a": len(result.only_a), "only_b": len(result.only_b),
    }, ensure_ascii=False) + "\n")
    out.flush()
    return result
