"""Posture from keypoints and from the box: what the vagrant rule builds on."""
from __future__ import annotations

import numpy as np
import pytest

from vision.posture import Posture, classify, from_box, from_keypoints

# Named keypoints of a person seen from the front, as (x, y); unlisted points are invisible.
STANDING = {5: (90, 100), 6: (110, 100), 11: (92, 160), 12: (108, 160), 13: (92, 220), 14: (108, 220),
            15: (92, 280), 16: (108, 280)}
# Sitting on a wall facing the camera: the thighs point at us, so the knees are barely below the hips, and the
# feet hang a shin below them.
SEATED = {5: (90, 100), 6: (110, 100), 11: (92, 160), 12: (108, 160), 13: (90, 175), 14: (110, 175),
          15: (90, 230), 16: (110, 230)}
# Sitting on the ground, legs crossed in front: knees and ankles level with the hips.
SITTING = {5: (90, 100), 6: (110, 100), 11: (92, 160), 12: (108, 160), 13: (70, 165), 14: (130, 165),
           15: (85, 172), 16: (115, 172)}
# Lying along the pavement: shoulders and hips side by side.
LYING = {5: (100, 200), 6: (100, 212), 11: (160, 202), 12: (160, 214), 13: (220, 204), 14: (220, 216)}


def keypoints(points: dict[int, tuple[float, float]], conf: float = 0.9) -> np.ndarray:
    kp = np.zeros((17, 3), dtype=np.float32)
    for i, (x, y) in points.items():
        kp[i] = (x, y, conf)
    return kp


def test_keypoints_tell_standing_sitting_and_lying() -> None:
    assert from_keypoints(keypoints(STANDING)) is Posture.UPRIGHT
    assert from_keypoints(keypoints(SITTING)) is Posture.SITTING
    assert from_keypoints(keypoints(SEATED)) is Posture.SEATED
    assert from_keypoints(keypoints(LYING)) is Posture.LYING


def test_sitting_with_the_feet_hidden_counts_as_the_ground() -> None:
    # Bags in front of the legs: nothing shows a seat under the hips.
    no_feet = {k: v for k, v in SEATED.items() if k not in (15, 16)}
    assert from_keypoints(keypoints(no_feet)) is Posture.SITTING


def test_bending_over_is_not_lying() -> None:
    # Torso across the picture, but the legs stand under it: someone helping a fallen person up.
    bending = {5: (40, 100), 6: (40, 110), 11: (100, 105), 12: (100, 115), 13: (100, 160), 14: (100, 170),
               15: (102, 220), 16: (102, 230)}
    assert from_keypoints(keypoints(bending)) is Posture.UPRIGHT

def test_sitting_person_leaning_forward_is_still_sitting() -> None:
    leaning = dict(SITTING)
    leaning[5], leaning[6] = (110, 105), (130, 105)  # shoulders forward of the hips, ~20 degrees
    assert from_keypoints(keypoints(leaning)) is Posture.SITTING


def test_invisible_body_parts_give_unknown() -> None:
    assert from_keypoints(keypoints(STANDING, conf=0.2)) is Posture.UNKNOWN
    no_knees = {k: v for k, v in STANDING.items() if k in (5, 6, 11, 12)}
    assert from_keypoints(keypoints(no_knees)) is Posture.UNKNOWN
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        from_keypoints(np.zeros((5, 3), dtype=np.float32))


def test_box_shape_is_the_fallback() -> None:
    assert from_box((100, 100, 140, 220)) is Posture.UPRIGHT  # 3:1
    assert from_box((100, 100, 160, 180)) is Posture.SITTING  # 1.33:1
    assert from_box((100, 100, 260, 160)) is Posture.LYING  # wider than tall
    assert from_box((100, 100, 150, 200)) is Posture.UNKNOWN  # 2:1 could be either
    # Cut off by the bottom of a 640x360 frame: a standing person's top half looks squat, so no verdict.
    assert from_box((100, 300, 160, 360), image_size=(640, 360)) is Posture.UNKNOWN


def test_speed_splits_upright_into_standing_and_walking() -> None:
    box = (100.0, 100.0, 140.0, 220.0)
    assert classify(box, speed=0.05) is Posture.STANDING
    assert classify(box, speed=1.2) is Posture.WALKING
    assert classify(box) is Posture.UPRIGHT  # unknown speed, e.g. a moving camera
    # Keypoints win over the box: a squat box of a standing person (arms out) is still upright.
    assert classify((80.0, 90.0, 200.0, 290.0), keypoints(STANDING), speed=0.0) is Posture.STANDING


def test_a_person_cut_off_by_the_edge_is_not_lying() -> None:
    # Tilted torso, but the box runs out of the bottom of a 1280x720 picture: someone leaning in, not lying.
    edge_box = (143.0, 200.0, 1132.0, 712.0)
    assert classify(edge_box, keypoints(LYING), image_size=(1280, 720)) is Posture.UNKNOWN
    assert classify((100.0, 190.0, 240.0, 230.0), keypoints(LYING), image_size=(1280, 720)) is Posture.LYING


def test_legs_hidden_behind_a_pram_are_not_sitting() -> None:
    # Shoulders and hips seen, knees hidden: the box covers the upper body only and looks squat.
    upper_body = {k: v for k, v in STANDING.items() if k in (5, 6, 11, 12)}
    squat_box = (80.0, 90.0, 150.0, 180.0)
    assert classify(squat_box, keypoints(upper_body)) is Posture.UNKNOWN
    assert classify(squat_box) is Posture.SITTING  # without a pose model the box shape is all there is
