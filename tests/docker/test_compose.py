"""The deployment files are checked offline: no Docker engine runs on the development or CI machines."""
from __future__ import annotations

import shutil
import subprocess

from gridwatch.settings import REPO_ROOT, load_settings


def test_compose_file_validates() -> None:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Debian package) is installed by scripts/bootstrap.sh"
    done = subprocess.run(
        [binary, "-f", str(REPO_ROOT / "docker" / "compose.yml"), "config", "-q"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_deployment_settings_file_is_valid() -> None:
    settings = load_settings(REPO_ROOT / "docker" / "gridwatch.toml")
    assert settings.dashboard.port == 8050
