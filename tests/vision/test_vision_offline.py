"""Loading, detecting, tracking and Ultralytics' font lookup never touch the network or ~/.config.

Runs in a fresh interpreter (Ultralytics reads its environment at import) with HOME and YOLO_CONFIG_DIR
pointing at empty folders and an audit hook that records every DNS lookup and socket connection.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gridwatch.settings import REPO_ROOT

SCRIPT = r"""
import json, socket, sys

attempts = []

def hook(event, args):
    if event == "socket.getaddrinfo":
        attempts.append(f"getaddrinfo {args[0]!r}")
    elif event == "socket.connect":
        sock, address = args[0], args[1]
        if sock.family != socket.AF_UNIX:
            attempts.append(f"connect {address!r}")

sys.addaudithook(hook)

import cv2
from gridwatch.settings import VisionSettings
from vision.yolo import Detector, make_tracker
from ultralytics.utils.checks import check_font

img = cv2.imread(sys.argv[1])
det = Detector(VisionSettings())
dets = det.detect(img)
tracked = make_tracker(VisionSettings(), fps=5.0).update(dets, img)
fonts = [str(check_font("Arial.ttf")), str(check_font("Arial.Unicode.ttf"))]
print("RESULT " + json.dumps({"attempts": attempts, "n": len(dets), "tracked": len(tracked), "fonts": fonts}))
"""


def test_detection_runs_without_network_or_home_config(tmp_path: Path, shared_dir: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    yolo_dir = tmp_path / "yolo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "XDG_"))}
    env.update(HOME=str(home), YOLO_CONFIG_DIR=str(yolo_dir), PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(shared_dir / "images" / "bus.jpg")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["attempts"] == [], f"network access attempted: {result['attempts']}"
    assert result["n"] == 5 and result["tracked"] == 5
    # Fonts come from the project's config folder (linked to system fonts), nothing was fetched.
    assert result["fonts"] == [str(yolo_dir / "Ultralytics" / "Arial.ttf"),
                               str(yolo_dir / "Ultralytics" / "Arial.Unicode.ttf")]
    assert (yolo_dir / "Ultralytics" / "Arial.ttf").resolve().is_file()
    assert not (home / ".config" / "Ultralytics").exists()
