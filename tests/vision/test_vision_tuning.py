"""Tools to tune: ``gridwatch analyze --set KEY=VALUE`` and ``--compare KEY=VALUE`` on a short clip.

The clip is the SYNTHETIC drive-by of one man sitting on a low wall (demo.driveby ``park-sitter``, made from the
shared park photo): seated on a wall, he is no vagrant under the default ``rules.vagrant_postures`` (sitting on the
ground, lying), and one when "seated" is opted in.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.driveby import scene_photo, write_clip
from gridwatch.settings import REPO_ROOT
from vision.compare import diff_events

GRIDWATCH = Path(sys.executable).with_name("gridwatch")
WITH_SEATED = 'rules.vagrant_postures=["lying", "sitting", "seated"]'
DEFAULT_POSTURES = 'rules.vagrant_postures=["lying", "sitting"]'


@pytest.fixture(scope="module")
def sitter_clip(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    photo, spec = scene_photo("park-sitter", shared_dir / "images")
    return write_clip(photo, tmp_path_factory.mktemp("clips") / "sitter.mp4", spec)


def _analyze(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRIDWATCH), "--log-level", "WARNING", "analyze", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=480)


def _rows(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert rows and rows[-1]["summary"] is True, rows
    return rows[:-1], rows[-1]


def test_set_overrides_a_rule_for_one_run(sitter_clip: Path, tmp_path: Path) -> None:
    proc = _analyze(str(sitter_clip), "--patrol", "--out", str(tmp_path / "default.jsonl"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    events, _ = _rows((tmp_path / "default.jsonl").read_text(encoding="utf-8"))
    assert events == [], "seated on a wall is no vagrant by default"
    proc = _analyze(str(sitter_clip), "--patrol", "--set", WITH_SEATED, "--out", str(tmp_path / "seated.jsonl"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    events, summary = _rows((tmp_path / "seated.jsonl").read_text(encoding="utf-8"))
    assert [e["code"] for e in events] == ["0502"] and summary["issues"] == 1, "seated opted in for this run"


def test_wrong_keys_and_values_are_named(sitter_clip: Path) -> None:
    for override, expected in (
        ("rules.patrol_min_frame=3", "rules.patrol_min_frame: unknown key"),
        ("rulez.patrol_min_frames=3", "rulez: unknown key"),
        ("rules.patrol_min_frames=many", "rules.patrol_min_frames: Input should be a valid integer"),
        ("rules.patrol_min_frames=0", "rules.patrol_min_frames: Input should be greater than or equal to 1"),
        ("rules.patrol_min_frames", "write it as SECTION.KEY=VALUE"),
    ):
        for flag in ("--set", "--compare"):
            proc = _analyze(str(sitter_clip), flag, override)
            assert proc.returncode == 2, (override, proc.stderr)
            assert expected in proc.stderr, (override, proc.stderr)
            assert proc.stdout == ""


def test_compare_lists_what_a_change_loses_and_adds(sitter_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "diff.jsonl"
    proc = _analyze(str(sitter_clip), "--patrol", "--set", WITH_SEATED, "--compare", DEFAULT_POSTURES,
                    "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows, summary = _rows(out.read_text(encoding="utf-8"))
    assert [(r["diff"], r["code"]) for r in rows] == [("only_a", "0502")], rows
    assert rows[0]["a"]["category"] == "vagrancy and begging" and Path(rows[0]["a"]["snapshot"]).parent.name == "a"
    assert summary["compare"] is True
    assert (summary["both"], summary["only_a"], summary["only_b"]) == (0, 1, 0)
    assert summary["a"]["issues"] == 1 and summary["b"]["issues"] == 0
    assert summary["b"]["overrides"] == [DEFAULT_POSTURES]
    assert summary["a"]["frames"] == summary["b"]["frames"] == 20  # the same footage, 4 s at 5 fps


def test_diff_pairs_issues_by_code_and_time() -> None:
    def rec(code: str, first: float, last: float) -> dict[str, Any]:
        return {"code": code, "first_s": first, "last_s": last}

    a = [rec("0502", 1.0, 3.0), rec("0501", 5.0, 6.0), rec("0502", 10.0, 12.0)]
    b = [rec("0502", 1.4, 3.2), rec("0502", 20.0, 21.0), rec("0501", 6.5, 8.0)]
    d = diff_events(a, b)
    assert d.both == [(a[0], b[0]), (a[1], b[2])]  # 0501 confirmed half a second later is the same issue
    assert d.only_a == [a[2]] and d.only_b == [b[1]]
