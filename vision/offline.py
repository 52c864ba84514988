"""Prepare the process so Ultralytics and OpenVINO never reach the network.

Must run before ``import ultralytics``: Ultralytics reads its environment (offline mode, auto-install, config
folder) once at import time. Nothing here imports Ultralytics.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from gridwatch.settings import REPO_ROOT

log = logging.getLogger(__name__)

_lock = threading.Lock()
_done = False

# Ultralytics looks for these names in its config folder before it would download them from GitHub.
_FONTS: dict[str, tuple[str, ...]] = {
    "Arial.ttf": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    ),
    # Used for non-ASCII labels (e.g. Chinese class names); Noto CJK covers them.
    "Arial.Unicode.ttf": (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ),
}


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def config_dir() -> Path:
    """The folder given to Ultralytics as ``YOLO_CONFIG_DIR`` (it adds ``Ultralytics/`` below it)."""
    if env := os.environ.get("YOLO_CONFIG_DIR"):
        return Path(env).expanduser()
    local = REPO_ROOT / ".yolo"
    if _writable_dir(local):
        return local
    # An installed, read-only checkout (e.g. a container image): a private folder in /tmp instead.
    return Path(tempfile.gettempdir()) / f"gridwatch-yolo-{os.getuid()}"


def _first_existing(candidates: tuple[str, ...]) -> Path | None:
    for c in candidates:
        if Path(c).is_file():
            return Path(c)
    found = sorted(Path("/usr/share/fonts").glob("**/*.ttf")) if Path("/usr/share/fonts").is_dir() else []
    return found[0] if found else None


def _place_fonts(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, candidates in _FONTS.items():
        target = folder / name
        if target.exists():
            continue
        source = _first_existing(candidates)
        if source is None:
            log.warning("no system font to stand in for %s in %s; Ultralytics plotting would try to download it",
                        name, folder)
            continue
        try:
            target.unlink(missing_ok=True)  # a dangling link from an older machine
            target.symlink_to(source)
        except OSError:
            shutil.copyfile(source, target)
        log.debug("font %s -> %s", target, source)


def _openvino_telemetry_off() -> None:
    """Record the opt-out in OpenVINO's consent file.

    Written directly: ``opt_in_out --opt_out`` would itself send an "opted out" event over the network.
    """
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:
        return
    try:
        checker = OptInChecker()
        if checker.check(enable_opt_in_dialog=False) != ConsentCheckResult.DECLINED:
            checker.update_result(ConsentCheckResult.DECLINED)
    except Exception as exc:  # noqa: BLE001 - telemetry bookkeeping must never stop detection
        log.debug("could not record OpenVINO telemetry opt-out: %s", exc)


def prepare_offline() -> Path:
    """Set the offline environment for Ultralytics and place its fonts; returns its config folder. Idempotent."""
    global _done
    with _lock:
        folder = config_dir()
        if _done:
            return folder
        if "ultralytics" in sys.modules:
            log.warning("ultralytics was imported before vision.offline.prepare_offline(); "
                        "its offline settings may not apply")
        # Forced, not defaulted: GridWatch must never download or pip-install at run time.
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "0"
        os.environ["YOLO_CONFIG_DIR"] = str(folder)
        _place_fonts(folder / "Ultralytics")
        _openvino_telemetry_off()
        _done = True
        return folder
