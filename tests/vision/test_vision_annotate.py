"""Boxes drawn on frames for the wall, and JPEG tiles of the right size."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gridwatch.types import Detections
from vision.annotate import class_colour, draw, label_text, to_jpeg

DETS = Detections.from_lists(
    xyxy=[[100.0, 100.0, 300.0, 400.0], [500.0, 200.0, 700.0, 300.0]],
    confidence=[0.91, 0.5],
    class_name=["person", "car"],
    class_id=[0, 2],
    track_id=[7, -1],
)


def test_boxes_are_drawn_in_class_colours_on_a_copy() -> None:
    img = np.zeros((720, 1280, 3), dtype=np.uint8)
    out = draw(img, DETS)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not img.any()  # the caller's frame is untouched
    # Middle of each box's left edge carries its class colour.
    assert tuple(int(v) for v in out[250, 100]) == class_colour(0)
    assert tuple(int(v) for v in out[250, 500]) == class_colour(2)
    assert class_colour(0) != class_colour(2)
    assert not out[250, 200].any()  # inside the box stays as it was


def test_labels_name_class_and_track() -> None:
    assert label_text(DETS, 0) == "行人 #7 0.91"  # Chinese by default, for the operators
    assert label_text(DETS, 0, lang="en") == "person #7 0.91"
    assert label_text(DETS, 1, lang="en") == "car 0.50"  # untracked: no id
    img = np.zeros((720, 1280, 3), dtype=np.uint8)
    with_labels, without = draw(img, DETS), draw(img, DETS, labels=False)
    assert with_labels[60:95, 110:300].any() and not without[60:95, 110:300].any()


def test_custom_chinese_class_names_draw_as_glyphs() -> None:
    dets = Detections.from_lists([[10.0, 60.0, 90.0, 95.0]], [0.8], ["流动摊贩"], track_id=[3])
    assert label_text(dets, 0) == "流动摊贩 #3 0.80"
    chinese = draw(np.zeros((100, 100, 3), dtype=np.uint8), dets)
    question = draw(np.zeros((100, 100, 3), dtype=np.uint8),
                    Detections.from_lists([[10.0, 60.0, 90.0, 95.0]], [0.8], ["????"], track_id=[3]))
    assert chinese[40:60, 10:90].any() and not np.array_equal(chinese, question)


def test_jpeg_is_downscaled_keeping_aspect() -> None:
    img = np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    data = to_jpeg(img, max_width=960, quality=80)
    assert data[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (540, 960, 3)


def test_small_image_is_not_upscaled_and_quality_matters() -> None:
    img = np.random.default_rng(2).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    decoded = cv2.imdecode(np.frombuffer(to_jpeg(img), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (240, 320, 3)
    assert len(to_jpeg(img, quality=30)) < len(to_jpeg(img, quality=95))


def test_bad_jpeg_arguments_are_refused() -> None:
    img = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="quality"):
        to_jpeg(img, quality=0)
    with pytest.raises(ValueError, match="max_width"):
        to_jpeg(img, max_width=0)
