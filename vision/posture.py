"""Body posture of one person from pose keypoints and/or the box: lying, sitting, standing, walking.

Pure functions of one detection (and, for standing vs walking, the track's speed); no model and no I/O here.
Keypoints are COCO's 17 (x, y, confidence) in image pixels, as Ultralytics' pose models give them.

Why these cues (measured on the real photos of ../shared/eval's tuning half, bench/labels/split.tsv): a
sitting person's thighs point at or across the camera, so the knees drop little below the hips compared with
the torso length (standing 0.6-0.9 torso lengths, sitting < 0.55). Where they sit tells the feet: on the
ground the ankles are level with the hips or barely below (0-0.45 torso lengths: picnickers, vendors), on a
bench, chair or wall they hang a shin below (0.9-1.6: the park photo's wall sitters, a fair's benches) —
SITTING is on the ground, SEATED on a seat. A lying person's torso runs across the picture, but so does a
person bending over someone; lying needs legs that do not stand under the torso. Without usable keypoints the
box shape is the fallback: upright people are 2-4x taller than wide, sitting ones 1-2x, lying ones wider than
tall. Every threshold is relative to the person's own torso or box, so near and far, left and right, judge
alike.
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
# Ankle drop below the hips, in torso lengths: on the ground at most this (picnickers 0.05-0.41), on a seat
# more (a fair bench 0.50, wall and bench sitters 0.95-1.6; standing 1.2-1.8).
GROUND_MAX_ANKLE_DROP = 0.45
# A torso across the picture over legs that stand (ankles this far below the hips, legs within
# STANDING_MAX_LEG_ANGLE of vertical) is someone bending over, not lying.
BENDING_MIN_ANKLE_DROP = 1.0
STANDING_MAX_LEG_ANGLE = 30.0
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
    SITTING = "sitting"  # on the ground
    SEATED = "seated"  # on a bench, chair or wall: hips a shin above the feet
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
    ankles = _mid(kp, L_ANKLE, R_ANKLE)
    ankle_drop = None if ankles is None else float(ankles[1] - hips[1]) / torso_len
    if angle >= LYING_MIN_TORSO_ANGLE:
        if ankles is not None and ankle_drop is not None and ankle_drop >= BENDING_MIN_ANKLE_DROP:
            leg = ankles - hips
            if float(np.degrees(np.arctan2(abs(leg[0]), abs(leg[1])))) <= STANDING_MAX_LEG_ANGLE:
                return Posture.UPRIGHT  # bent over (helping someone up, picking something up)
        return Posture.LYING
    knees = _mid(kp, L_KNEE, R_KNEE)
    if knees is None:
        return Posture.UNKNOWN
    # Measured along the torso's own axis, so a person leaning forward is judged by the thighs, not the lean.
    axis = torso / torso_len
    drop = float(np.dot(knees - hips, axis)) / torso_len
    if drop > SITTING_MAX_KNEE_DROP:
        return Posture.UPRIGHT
    if ankle_drop is not None and ankle_drop > GROUND_MAX_ANKLE_DROP:
        return Posture.SEATED
    # Feet unseen (bags in front, cut by the frame): nothing shows a seat under the hips; taken as the ground.
    return Posture.SITTING


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


def _has_ankles(keypoints: npt.NDArray[np.float32]) -> bool:
    kp = np.asarray(keypoints)
    return bool(kp[L_ANKLE, 2] >= KEYPOINT_MIN_CONF or kp[R_ANKLE, 2] >= KEYPOINT_MIN_CONF)


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
        if posture is Posture.UPRIGHT and not _has_ankles(keypoints) and from_box(xyxy, image_size) is Posture.LYING:
            # Lying with the head or feet towards the camera foreshortens the torso to look upright; with the
            # feet unseen nothing shows a standing person, and the box is wider than tall.
            posture = Posture.LYING
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


# Postures the fall model (vision.fall) may turn into LYING: those where COCO + pose are unsure (unreadable
# keypoints, a box cut by the picture's edge) or say upright; its lying-shaped Fall box over an upright box is
# rare, over a sitter common (it calls picnickers and bench sitters Fall), so pose's sitting/seated stand.
FALL_OVERRULES = frozenset({Posture.UNKNOWN, Posture.UPRIGHT, Posture.STANDING})


def with_fall_signal(posture: Posture, fall_confidence: float) -> Posture:
    """A person the fall model saw lying (confidence > 0: a confident, lying-shaped Fall box) is lying unless
    pose saw them sitting, seated or walking."""
    return Posture.LYING if fall_confidence > 0 and posture in FALL_OVERRULES else posture


# Detector classes a person may sit on: hips inside one of these boxes are on a seat, whatever the legs show
# (a man on a bench with his legs stretched out has his ankles near hip height).
SEAT_CLASSES = frozenset({"bench", "chair", "couch"})
# HSV range of grass and other green ground cover (OpenCV hue 0-180), and the share of the ground around the
# feet that must be green for a sitter to be on grass.
GREEN_HUE = (30, 90)
GREEN_MIN_SAT, GREEN_MIN_VAL = 50, 40
GRASS_MIN_SHARE = 0.25  # far picnickers among a crowd show ~0.27 green around them


def on_seat(xyxy: tuple[float, float, float, float], seats: list[tuple[float, float, float, float]]) -> bool:
    """Is the person's seat point (box centre, a quarter up from its bottom) inside a bench/chair box?"""
    x1, y1, x2, y2 = xyxy
    px, py = (x1 + x2) / 2, y2 - (y2 - y1) / 4
    return any(s[0] <= px <= s[2] and s[1] <= py <= s[3] for s in seats)


def on_grass(image: npt.NDArray[np.uint8], xyxy: tuple[float, float, float, float]) -> bool:
    """Is the ground around the person's lower body mostly green (a lawn, not a pavement)?

    Why: people sitting on a park's lawn (picnickers) sit on the ground like a beggar on a pavement, and pose
    cannot tell them apart; the surface can. Only used for sitting: someone lying on grass may need help.
    """
    import cv2  # deferred: posture is otherwise pure numpy

    h_img, w_img = image.shape[:2]
    x1, y1, x2, y2 = xyxy
    bw, bh = x2 - x1, y2 - y1
    # The strip from the box's lower third to a fifth of its height below it, widened by half a box each side.
    rx1, rx2 = max(0, int(x1 - bw / 2)), min(w_img, int(x2 + bw / 2))
    ry1, ry2 = max(0, int(y2 - bh / 3)), min(h_img, int(y2 + bh / 5))
    if rx2 - rx1 < 2 or ry2 - ry1 < 2:
        return False
    hsv = cv2.cvtColor(np.ascontiguousarray(image[ry1:ry2, rx1:rx2]), cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    green = (hue >= GREEN_HUE[0]) & (hue <= GREEN_HUE[1]) & (sat >= GREEN_MIN_SAT) & (val >= GREEN_MIN_VAL)
    # The person's own box hides the ground behind them; count only what lies outside it.
    mask = np.ones(green.shape, dtype=bool)
    ix1, ix2 = max(0, int(x1) - rx1), max(0, int(x2) - rx1)
    iy1, iy2 = max(0, int(y1) - ry1), max(0, int(y2) - ry1)
    mask[iy1:iy2, ix1:ix2] = False
    if not mask.any():
        return False
    return float(green[mask].mean()) >= GRASS_MIN_SHARE


def ground_posture(posture: Posture, xyxy: tuple[float, float, float, float], image: npt.NDArray[np.uint8],
                   seats: list[tuple[float, float, float, float]]) -> Posture:
    """A SITTING verdict checked against the scene: on a bench/chair box or on a lawn it is SEATED."""
    if posture is Posture.SITTING and (on_seat(xyxy, seats) or on_grass(image, xyxy)):
        return Posture.SEATED
    return posture
