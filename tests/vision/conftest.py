"""Models loaded once for all vision tests (real weights from ../shared), and shared-image helpers."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gridwatch.settings import VisionSettings
from vision.pose import PoseEstimator
from vision.yolo import Detector


def read_image(shared_dir: Path, name: str) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(shared_dir / "images" / name))
    assert img is not None, f"could not read {name}"
    return np.asarray(img, dtype=np.uint8)


@pytest.fixture(scope="session")
def coco_detector() -> Detector:
    # The default yolo11n int8 OpenVINO at 640, frames not stacked: as `gridwatch analyze` runs it.
    return Detector(VisionSettings())


@pytest.fixture(scope="session")
def pose_estimator() -> PoseEstimator:
    return PoseEstimator(VisionSettings())  # the default pose model: yolov8n-pose int8 OpenVINO
