"""``gridwatch grids import`` on a terminal: a progress bar, overlapping grids reported, leaders and staff stored."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.gridwatch.terminal_testing import run_on_a_terminal

GRIDWATCH = Path(sys.executable).with_name("gridwatch")
GRID = "410105001001001"
NEIGHBOUR = "410105001001002"


def _map_with_staff_and_an_overlap(tmp_path: Path) -> Path:
    from gridwatch.settings import DEMO_GRIDS

    doc: dict[str, Any] = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    by_code = {f["properties"]["code"]: f for f in doc["features"]}
    by_code[GRID]["properties"]["staff"] = ["王芳", "李娜"]
    moved = copy.deepcopy(by_code[NEIGHBOUR]["geometry"])
    for ring in moved["coordinates"]:
        for p in ring:
            p[0] -= 0.005  # a third of the neighbour drawn over the grid
    by_code[NEIGHBOUR]["geometry"] = moved
    path = tmp_path / "map.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_on_a_terminal_shows_progress_and_reports_overlaps_and_staff(tmp_path: Path) -> None:
    from alerts.db import make_engine
    from alerts.gridstaff import GridStaffStore

    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n')
    source = _map_with_staff_and_an_overlap(tmp_path)
    done, shown = run_on_a_terminal([str(GRIDWATCH), "--config", str(cfg), "grids", "import", str(source)], 120)
    assert done.returncode == 0, shown
    assert "checking grids [" in shown and "22/22 100%" in shown
    assert "imported 22 grids" in done.stdout and "2 staff names" in done.stdout
    assert "warning: 1 overlapping pair of same-level grids" in done.stdout
    assert f"level 3: {GRID} and {NEIGHBOUR} share" in done.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'gridwatch.db'}")
    try:
        assert GridStaffStore(engine).staff_of(GRID) == ("王芳", "李娜")
    finally:
        engine.dispose()


def test_import_in_a_script_prints_no_progress_bar(tmp_path: Path) -> None:
    from gridwatch.settings import DEMO_GRIDS

    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n')
    done = subprocess.run([str(GRIDWATCH), "--config", str(cfg), "grids", "import", str(DEMO_GRIDS)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "checking grids" not in done.stderr and "warning" not in done.stdout
