"""Body posture of one person from pose keypoints and/or the box: lying, sitting, standing, walking.

Pure functions of one detection (and, for standing vs walking, the track's speed); no model and no I/O here.
Keypoints are COCO's 17 (x, y, confidence) in image pixels, as Ultralytics' pose models give them.

Why these cues: in the street views we get, a sitting person's thighs point at or across the camera, so the
knees drop little below the hips compared with the torso length; a standing person's knees are a torso length
below the hips; a lying person's torso runs across the picture. Without usable keypoints the box shape is the
fallback: upright people are 2-4x taller than wide, sitting ones 1-2x, lying ones wider than tall.
"""
from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

# COCO keypoint indices.
L_SHOULDER, R_SHOULDER = 5, 6
L_HIP, R_HIP = 11, 12
L_KNEE, R_KNEE = 13, 14
L_ANKLE, R_ANKLE = 15, 16

KEYPOINT_MIN_CONF = 0.5
# Knee drop below the hips, in torso lengths: standing ~0.9-1.1, sitting 0-0.5 in our street views.
SITTING_MAX_KNEE_DROP = 0.55
# Torso more than this many degrees off vertical = lying (a slumped sitter leans ~20-30 degrees).
LYING_MIN_TORSO_ANGLE = 55.0
# Box height / width: upright people are at least this much taller than wide ...
UPRIGHT_MIN_ASPECT = 2.2
# ... sitting people at most this, lying people at most LYING_MAX_ASPECT.
SITTING_MAX_ASPECT = 1.6
LYING_MAX_ASPECT = 0.8
# A box within this fraction of the picture's size from its border is cut off.
BORDER_MARGIN = 0.015
# Speed of the box centre, in box heights per second, above which an upright person is walking.
WALKING_MIN_SPEED = 0.35


class Posture(StrEnum):
    LYING = "lying"
    SITTING = "sitting"
    STANDING = "standing"
    WALKING = "walking"
    UPRIGHT = "upright"  # standing or walking, when the speed is not known (e.g. a moving camera)
    UNKNOWN = "unknown"


GROUND_POSTURES = frozenset({Posture.LYING, Posture.SITTING})


def _mid(kp: npt.NDArray[np.float32], a: int, b: int) -> npt.NDArray[np.float32] | None:
    """Midpoint of two keypoints, or the one that is visible, or None."""
    va, vb = kp[a, 2] >= KEYPOINT_MIN_CONF, kp[b, 2] >= KEYPOINT_MIN_CONF
    if va and vb:
        return np.asarray((kp[a, :2] + kp[b, :2]) / 2, dtype=np.float32)
    if va:
        return np.asarray(kp[a, :2], dtype=np.float32)
    if vb:
        return np.asarray(kp[b, :2], dtype=np.float32)
    return None


def from_keypoints(keypoints: npt.NDArray[np.float32]) -> Posture:
    """Posture from one person's (17, 3) keypoints; UNKNOWN when shoulders, hips or knees are not visible."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape != (17, 3):
        raise ValueError(f"expected COCO keypoints of shape (17, 3), got {kp.shape}")
    shoulders, hips = _mid(kp, L_SHOULDER, R_SHOULDER), _mid(kp, L_HIP, R_HIP)
    if shoulders is None or hips is None:
        return Posture.UNKNOWN
    torso = hips - shoulders
    torso_len = float(np.hypot(*torso))
    if torso_len < 1.0:
        return Posture.UNKNOWN
    angle = float(np.degrees(np.arctan2(abs(torso[0]), abs(torso[1]))))  # 0 = vertical
    if angle >= LYING_MIN_TORSO_ANGLE:
        return Posture.LYING
    knees = _mid(kp, L_KNEE, R_KNEE)
    if knees is None:
        return Posture.UNKNOWN
    # Measured along the torso's own axis, so a person leaning forward is judged by the thighs, not the lean.
    axis = torso / torso_len
    drop = float(np.dot(knees - hips, axis)) / torso_len
    return Posture.SITTING if drop <= SITTING_MAX_KNEE_DROP else Posture.UPRIGHT


def truncated(xyxy: tuple[float, float, float, float], image_size: tuple[int, int]) -> bool:
    """Does the box touch the picture's border (a person partly out of view)?"""
    x1, y1, x2, y2 = xyxy
    iw, ih = image_size
    mx, my = max(2.0, BORDER_MARGIN * iw), max(2.0, BORDER_MARGIN * ih)
    return x1 <= mx or y1 <= my or x2 >= iw - mx or y2 >= ih - my


def from_box(xyxy: tuple[float, float, float, float], image_size: tuple[int, int] | None = None) -> Posture:
    """Posture from the box shape alone; UNKNOWN for in-between shapes and boxes cut off by the image edge.

    ``image_size`` is (width, height); a box touching the border is a partly visible person, whose shape
    says nothing about the posture.
    """
    x1, y1, x2, y2 = xyxy
    w, h = x2 - x1, y2 - y1
    if w <= 0 or h <= 0:
        return Posture.UNKNOWN
    if image_size is not None and truncated(xyxy, image_size):
        return Posture.UNKNOWN
    aspect = h / w
    if aspect >= UPRIGHT_MIN_ASPECT:
        return Posture.UPRIGHT
    if aspect <= LYING_MAX_ASPECT:
        return Posture.LYING
    if aspect <= SITTING_MAX_ASPECT:
        return Posture.SITTING
    return Posture.UNKNOWN


def classify(
    xyxy: tuple[float, float, float, float],
    keypoints: npt.NDArray[np.float32] | None = None,
    speed: float | None = None,
    image_size: tuple[int, int] | None = None,
    walking_speed: float = WALKING_MIN_SPEED,
) -> Posture:
    """One person's posture: keypoints when they are usable, else the box; ``speed`` (box heights per second,
    None when unknown) splits upright into standing and walking at ``walking_speed``."""
    posture = Posture.UNKNOWN
    posed = keypoints is not None and bool(np.any(np.asarray(keypoints)[..., 2] >= KEYPOINT_MIN_CONF))
    if posed and keypoints is not None:
        posture = from_keypoints(keypoints)
        if posture is Posture.LYING and image_size is not None and truncated(xyxy, image_size):
            # Someone leaning into the picture from its edge has a tilted torso too; lying needs the whole body.
            posture = Posture.UNKNOWN
    if posture is Posture.UNKNOWN:
        posture = from_box(xyxy, image_size)
        if posed and posture is Posture.SITTING:
            # The pose model saw this person but not their knees: mostly legs hidden behind a pram, a car or a
            # bin, which also makes the box squat. A squat box is no evidence of sitting then.
            posture = Posture.UNKNOWN
    if posture is Posture.UPRIGHT and speed is not None:
        return Posture.WALKING if speed >= walking_speed else Posture.STANDING
    return posture
