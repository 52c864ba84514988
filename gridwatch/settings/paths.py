"""Where GridWatch's files live by default: the repository, the shared folder beside it (models, videos), the
demo grid map; the settings' defaults point here."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # gridwatch/settings/paths.py -> the repository
SHARED_DIR = REPO_ROOT.parent / "shared"
DEFAULT_MODEL = SHARED_DIR / "models" / "yolo11n_int8_openvino_model"
DEFAULT_POSE_MODEL = SHARED_DIR / "models" / "yolov8n-pose_int8_openvino_model"
DEMO_GRIDS = REPO_ROOT / "alerts" / "data" / "demo_grids.geojson"
