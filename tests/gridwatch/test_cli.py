"""Bad input at the command line: one clear error naming the problem, nothing started, nothing half-done."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GRIDWATCH = Path(sys.executable).with_name("gridwatch")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRIDWATCH), *args], capture_output=True, text=True, timeout=timeout)


def test_missing_weights_is_named_before_anything_starts(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n[vision]\nmodel = "{tmp_path}/no-such-model.xml"\n')
    done = _run("--config", str(cfg), "run")
    assert done.returncode == 2, done.stderr
    assert "no-such-model.xml" in done.stderr
    assert not (tmp_path / "data").exists(), "nothing should have been started or created"


def test_malformed_settings_file_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text("[dashboard]\nprot = 80\n")
    done = _run("--config", str(cfg), "run")
    assert done.returncode == 2
    assert "dashboard.prot" in done.stderr


def test_grid_import_and_invalid_grid_map(tmp_path: Path) -> None:
    from gridwatch.settings import DEMO_GRIDS

    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n')
    ok = _run("--config", str(cfg), "grids", "import", str(DEMO_GRIDS))
    assert ok.returncode == 0, ok.stderr
    assert "imported 22 grids" in ok.stdout

    bad = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    victim = bad["features"][5]
    victim["properties"]["parent"] = "999999999"
    bad_file = tmp_path / "bad.geojson"
    bad_file.write_text(json.dumps(bad), encoding="utf-8")
    failed = _run("--config", str(cfg), "grids", "import", str(bad_file))
    assert failed.returncode == 2
    assert victim["properties"]["code"] in failed.stderr and "999999999" in failed.stderr


def test_grid_map_in_gcj02_is_stored_in_wgs84(tmp_path: Path) -> None:
    """A map exported from AMap (GCJ-02) lands ~500 m away from where its raw numbers say: GPS routes right."""
    from alerts.db import make_engine
    from alerts.repository import Repository
    from geo.grids import GridIndex
    from gridwatch.settings import DEMO_GRIDS

    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n')
    done = _run("--config", str(cfg), "grids", "import", "--datum", "gcj02", str(DEMO_GRIDS))
    assert done.returncode == 0, done.stderr
    engine = make_engine(f"sqlite:///{tmp_path}/data/gridwatch.db")
    index = GridIndex(Repository(engine).list_grids())
    # The file's west border is lon 113.660; in WGS-84 that border lies ~0.006 deg (~560 m) further west,
    # so a GPS point just west of 113.660 is inside the map only after conversion.
    inside = index.locate(34.775, 113.657)
    assert inside is not None and inside.code.startswith("410105001")
    engine.dispose()
