"""What the verdict filter learns from, as the real pipeline (real weights, pose) sees it: a man seated on a wall
and a person lying on the ground give the features that tell them apart (``gridwatch analyze`` prints them)."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from demo.driveby import scene_photo, write_clip
from gridwatch.settings import Settings, load_settings
from vision.analyze import analyze


def _events(source: Path, settings: Settings, tmp_path: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    analyze(str(source), settings, out, tmp_path / "snaps", mobile=True, progress=False)
    return [r for r in (json.loads(line) for line in out.getvalue().splitlines()) if not r.get("summary")]


def test_a_seated_man_and_a_lying_person_carry_the_features_that_tell_them_apart(
    tmp_path: Path, shared_dir: Path
) -> None:
    seated_rules = load_settings(None, demo={"enabled": False},
                                 rules={"vagrant_postures": ["lying", "sitting", "seated"]})
    photo, spec = scene_photo("park-sitter", shared_dir / "images")
    [sitter] = _events(write_clip(photo, tmp_path / "sitter.mp4", spec), seated_rules, tmp_path)
    [lying] = _events(shared_dir / "eval" / "lying" / "amb_003.jpg",
                      load_settings(None, demo={"enabled": False}), tmp_path)

    s, ly = sitter["features"], lying["features"]
    assert s["posture_seated"] > 0.5 and s["posture_lying"] == 0.0  # on the wall, as the rule judged him
    assert ly["posture_lying"] == 1.0
    assert ly["aspect"] < 1.0 < s["aspect"]  # lying: wider than tall; seated: taller than wide
    assert s["keypoints_visible"] > 0.5  # the pose model saw his joints
    assert s["mobile"] == ly["mobile"] == 1.0  # both judged as a patrol car's view
    assert set(s) == set(ly)  # one rule, one set of feature names: the filter's columns
