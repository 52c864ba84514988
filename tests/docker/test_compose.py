"""The deployment files are checked offline: no Docker engine runs on the development or CI machines."""
from __future__ import annotations

import shutil
import subprocess
from typing import Any

import yaml

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


def _compose() -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    assert binary
    done = subprocess.run([binary, "-f", str(REPO_ROOT / "docker" / "compose.yml"), "config"],
                          capture_output=True, text=True, check=True, timeout=60)
    loaded: dict[str, Any] = yaml.safe_load(done.stdout)
    return loaded


def test_every_gridwatch_service_is_checked_by_its_progress_heartbeat() -> None:
    from centre.cli import build_parser

    services = _compose()["services"]
    assert {"redis", "postgres", "relay", "worker", "alerts", "dashboard"} <= set(services)
    for name, svc in services.items():
        if svc.get("command", [""])[0] != "gridwatch":
            continue
        test = svc["healthcheck"]["test"]
        assert test[:2] == ["CMD", "gridwatch"] and "check-health" in test, name
        # The health check's arguments parse with the real CLI (a typo would make the service never healthy).
        args = build_parser().parse_args(test[2:])
        assert args.command == "check-health" and args.kind in name, name


def test_workers_pull_from_the_relay_that_cars_publish_to() -> None:
    services = _compose()["services"]
    assert services["worker"]["depends_on"]["relay"]["condition"] == "service_healthy"
    relay = yaml.safe_load((REPO_ROOT / "docker" / "mediamtx.yml").read_text())
    assert {relay["rtspAddress"], relay["rtmpAddress"], relay["webrtcAddress"]} == {":8554", ":1935", ":8889"}
    actions = {p["action"] for u in relay["authInternalUsers"] for p in u["permissions"]}
    assert {"publish", "read"} <= actions
    settings = load_settings(REPO_ROOT / "docker" / "gridwatch.toml")
    assert settings.worker.lease_ttl_seconds <= 10, "a crashed worker's cameras must move within 15 s"


def test_gpu_image_documents_the_engine_export() -> None:
    text = (REPO_ROOT / "docker" / "Dockerfile.gpu").read_text()
    assert "format=engine" in text and "FROM nvidia/cuda" in text and "tensorrt" in text
