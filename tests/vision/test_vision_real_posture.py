"""Posture and the vagrant rule on REAL photos of ../shared/eval (never copied into the repo), and variants
made from them in the test: mirrored (the car passes the other way), cut by the frame edge, in a drive-by."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from demo.driveby import DriveBy, write_clip
from gridwatch.settings import Settings, load_settings
from vision.analyze import analyze
from vision.pose import PoseEstimator
from vision.yolo import Detector


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(None)


def eval_photo(shared_dir: Path, name: str) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(shared_dir / "eval" / name))
    assert img is not None, f"could not read eval/{name}"
    return np.asarray(img, dtype=np.uint8)


def vagrant_boxes(source: npt.NDArray[np.uint8] | Path, tmp_path: Path, settings: Settings, detector: Detector,
                  pose: PoseEstimator, mobile: bool = True) -> list[list[float]]:
    path = source if isinstance(source, Path) else tmp_path / "photo.png"
    if not isinstance(source, Path):
        cv2.imwrite(str(path), source)
    out = io.StringIO()
    analyze(str(path), settings, out, tmp_path / "snaps", mobile=mobile, progress=False, detector=detector, pose=pose)
    rows: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [r["bbox"] for r in rows if not r.get("summary") and r["code"] == "0502"]


def test_a_person_lying_on_paving_is_a_vagrant_sighting_both_ways(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    photo = eval_photo(shared_dir, "lying/amb_003.jpg")
    boxes = vagrant_boxes(photo, tmp_path, settings, coco_detector, pose_estimator)
    assert len(boxes) == 1 and boxes[0][0] < 140 < boxes[0][2]  # the curled-up person, x ~88-187
    # Seen from the other side of the street: mirrored, the same verdict.
    assert len(vagrant_boxes(cv2.flip(photo, 1), tmp_path, settings, coco_detector, pose_estimator)) == 1


def test_a_person_lying_seen_head_on_is_a_vagrant_sighting(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    # Head towards the camera: the torso looks upright in the keypoints, the box is wider than tall.
    assert len(vagrant_boxes(eval_photo(shared_dir, "lying/amb_216.jpeg"), tmp_path, settings, coco_detector,
                             pose_estimator)) == 1


def test_a_man_on_a_bench_and_picnickers_on_grass_are_not_vagrants(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    for name in ("negative/amb_297.jpg", "negative/csp_064.jpg"):
        found = vagrant_boxes(eval_photo(shared_dir, name), tmp_path, settings, coco_detector, pose_estimator)
        assert found == [], name


def test_a_person_sitting_on_the_ground_cut_by_the_frame_edge_is_a_vagrant_sighting(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    # The vegetable seller squatting on the ground at the right edge of a roadside market (x 2173-2448 of the
    # photo), cropped so the picture's edge cuts him. (As a vendor he is 'ignore' in the evaluation; here he
    # is the only real person sitting on a pavement that ../shared holds.)
    crop = eval_photo(shared_dir, "vendor/csp_001.jpg")[900:1900, 1500:2448]
    boxes = vagrant_boxes(crop, tmp_path, settings, coco_detector, pose_estimator)
    assert any(b[2] >= crop.shape[1] - 10 and b[1] > 250 for b in boxes), boxes


def test_a_drive_by_of_a_lying_person_raises_one_sighting_left_to_right_and_back(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    photo = eval_photo(shared_dir, "lying/amb_003.jpg")
    for start, end in ((0.1, 0.9), (0.9, 0.1)):
        clip = write_clip(photo, tmp_path / "pass.mp4", DriveBy(seconds=3.0, window_height=0.95, start=start, end=end))
        assert len(vagrant_boxes(clip, tmp_path, settings, coco_detector, pose_estimator)) == 1, (start, end)


def _street_frame(shared_dir: Path) -> npt.NDArray[np.uint8]:
    """A real 1280x720 street frame (the shared town-centre clip) to set a photo into."""
    cap = cv2.VideoCapture(str(shared_dir / "video" / "towncentre_street_pedestrians_1080p.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok, "could not read the town-centre clip"
    return np.asarray(cv2.resize(frame, (1280, 720)), dtype=np.uint8)


def _with_bags(photo: npt.NDArray[np.uint8], box: tuple[int, int, int, int], share: float,
               side: str) -> npt.NDArray[np.uint8]:
    """The photo with a sack and a holdall drawn over ``share`` of the person's box, low on one side."""
    out = photo.copy()
    x1, y1, x2, y2 = box
    bw, bh = int((x2 - x1) * share), int((y2 - y1) * 0.5)
    xa, xb = (x2 - bw, x2) if side == "right" else (x1, x1 + bw)
    cv2.ellipse(out, ((xa + xb) // 2, y2 - bh // 2), (bw // 2, bh // 2), 0, 0, 360, (40, 60, 90), -1)
    cv2.rectangle(out, (xa + bw // 6, y2 - bh), (xb - bw // 6, y2), (30, 30, 140), -1)
    return out


# amb_216 is on the TEST half (bench/labels/split.tsv): these tests only hold what the rule does today; if one
# fails, do not tune a threshold on this photo (that would make the test-half figures in-sample).
HEAD_ON = "lying/amb_216.jpeg"
HEAD_ON_BOX = (47, 33, 220, 155)  # the person, as the detector boxes her in the photo


def test_a_lying_person_far_in_a_street_frame_and_near_is_one_vagrant_sighting(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    photo = eval_photo(shared_dir, HEAD_ON)
    far = _street_frame(shared_dir)  # walkers all around, standing: none of them may count
    h, w = photo.shape[:2]
    far[720 - h - 10:710, 100:100 + w] = photo  # 13% of the frame's width, lower left, as a far kerb
    boxes = vagrant_boxes(far, tmp_path, settings, coco_detector, pose_estimator)
    assert len(boxes) == 1 and 100 <= boxes[0][0] < boxes[0][2] <= 100 + w + 5, boxes
    near = np.asarray(cv2.resize(photo, (w * 3, h * 3), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    assert len(vagrant_boxes(near, tmp_path, settings, coco_detector, pose_estimator)) == 1


def test_a_lying_person_half_hidden_by_bags_is_still_a_vagrant_sighting(
    shared_dir: Path, tmp_path: Path, settings: Settings, coco_detector: Detector, pose_estimator: PoseEstimator
) -> None:
    photo = eval_photo(shared_dir, HEAD_ON)
    for side in ("left", "right"):  # bags at the head end and at the feet end
        hidden = _with_bags(photo, HEAD_ON_BOX, 0.4, side)
        assert len(vagrant_boxes(hidden, tmp_path, settings, coco_detector, pose_estimator)) == 1, side
