"""``gridwatch users``: add, list, change a password, disable -- against the configured database."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GRIDWATCH = Path(sys.executable).with_name("gridwatch")


def _run(cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRIDWATCH), "--config", str(cfg), "users", *args], capture_output=True, text=True,
                          input=stdin, timeout=120)


def test_users_are_added_listed_changed_and_disabled_from_the_command_line(tmp_path: Path) -> None:
    from alerts.db import make_engine
    from alerts.users import UserStore
    from gridwatch.settings import DEMO_GRIDS

    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n')
    imported = subprocess.run([str(GRIDWATCH), "--config", str(cfg), "grids", "import", str(DEMO_GRIDS)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    added = _run(cfg, "add", "zhang.wei", "--role", "grid_staff", "--scope", "410105001001", "--name", "张伟",
                 "--password-stdin", stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    assert "first-password" not in added.stdout + added.stderr
    listed = _run(cfg, "list")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith("zhang.wei"))
    assert "张伟" in row and "grid_staff" in row and "410105001001" in row and "first-password" not in listed.stdout

    store = UserStore(make_engine(f"sqlite:///{tmp_path / 'data' / 'gridwatch.db'}"))
    assert store.authenticate("zhang.wei", "first-password") is not None
    assert _run(cfg, "passwd", "zhang.wei", "--password-stdin", stdin="second-password\n").returncode == 0
    assert store.authenticate("zhang.wei", "first-password") is None
    assert store.authenticate("zhang.wei", "second-password") is not None
    assert _run(cfg, "disable", "zhang.wei").returncode == 0
    assert store.authenticate("zhang.wei", "second-password") is None

    bad = _run(cfg, "add", "far.away", "--role", "operator", "--scope", "999", "--password-stdin",
               stdin="long-enough\n")
    assert bad.returncode == 2 and "scope grid" in bad.stderr
    unknown = _run(cfg, "passwd", "nobody", "--password-stdin", stdin="long-enough\n")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
