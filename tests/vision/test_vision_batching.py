"""A batch of frames from several cameras gives what each frame alone gives, however it is run."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from gridwatch.settings import VisionSettings
from gridwatch.types import Detections
from tests.vision.conftest import read_image
from vision.stacking import stack, unstack
from vision.yolo import Detector


def test_parallel_openvino_requests_match_one_by_one(coco_detector: Detector, shared_dir: Path) -> None:
    # The default detector runs a batch's images as parallel OpenVINO requests; Ultralytics' own way runs
    # them one after the other. Same boxes, same classes, same order (stacking off to compare like with like).
    assert coco_detector.parallel == VisionSettings().openvino_requests >= 2
    sequential = Detector(VisionSettings(openvino_requests=1))
    assert sequential.parallel == 1
    images = [read_image(shared_dir, n) for n in ("zidane.jpg", "bus.jpg", "streetview_people_sitting_park.jpg")]
    parallel = Detector(VisionSettings())
    together, apart = parallel.detect_batch(images), sequential.detect_batch(images)
    assert [Counter(d.class_name) for d in together] == [Counter(d.class_name) for d in apart]
    for a, b in zip(together, apart, strict=True):
        assert np.allclose(a.xyxy, b.xyxy, atol=1.0) and np.allclose(a.confidence, b.confidence, atol=0.01)
    assert Counter(together[1].class_name) == {"person": 4, "bus": 1}


def test_stacked_frames_map_back_to_their_own_pixels() -> None:
    top = np.zeros((720, 1280, 3), dtype=np.uint8)
    bottom = np.zeros((360, 640, 3), dtype=np.uint8)
    canvas, (a, b) = stack([top, bottom], 640)
    assert canvas.shape == (640, 640, 3)
    assert a.y + a.height <= 320 <= b.y and a.width == b.width == 569
    # One box on each frame, as the model would report them on the canvas; one box astride the seam,
    # mostly in the lower frame.
    on_top = [a.x + 100 * a.scale, a.y + 100 * a.scale, a.x + 300 * a.scale, a.y + 500 * a.scale]
    on_bottom = [b.x + 10 * b.scale, b.y + 20 * b.scale, b.x + 60 * b.scale, b.y + 120 * b.scale]
    astride = [b.x + 300 * b.scale, 310.0, b.x + 350 * b.scale, b.y + 100 * b.scale]
    dets = Detections.from_lists([on_top, on_bottom, astride], [0.9, 0.8, 0.7], ["person", "car", "dog"])
    first, second = unstack(dets, (a, b))
    assert first.class_name == ("person",)
    assert np.allclose(first.xyxy[0], [100, 100, 300, 500], atol=0.01)
    assert second.class_name == ("car", "dog")
    assert np.allclose(second.xyxy[0], [10, 20, 60, 120], atol=0.01)
    assert second.xyxy[1][1] == 0.0  # clipped at the lower frame's top edge


def test_stacking_two_cameras_finds_what_each_alone_shows(coco_detector: Detector, shared_dir: Path) -> None:
    zidane = read_image(shared_dir, "zidane.jpg")  # 1280x720
    park = read_image(shared_dir, "streetview_people_sitting_park.jpg")[300:869]  # a 16:9 band of the park
    alone = coco_detector.detect_batch([zidane, park])
    stacked = coco_detector.detect_batch([zidane, park], per_input=2)
    assert Counter(stacked[0].class_name)["person"] == Counter(alone[0].class_name)["person"] == 2
    # Smaller in the stack, the park's people are mostly still found (a few of the smallest may be lost).
    n_alone, n_stacked = Counter(alone[1].class_name)["person"], Counter(stacked[1].class_name)["person"]
    assert n_stacked >= n_alone - 2 and n_stacked >= 5
    for box in stacked[1].xyxy:  # in the park band's own pixels
        assert 0 <= box[0] < box[2] <= 1158 and 0 <= box[1] < box[3] <= 569


def test_three_and_six_frames_share_a_square_input_without_overlap() -> None:
    frames = [np.full((720, 1280, 3), 10 * n, dtype=np.uint8) for n in range(6)]
    canvas, placed = stack(frames, 640)
    assert [(p.width, p.height) for p in placed] == [(320, 180)] * 6 and placed[0].scale == 0.25
    # Row by row in a 2x3 grid, each frame inside its own cell and painted there.
    for n, p in enumerate(placed):
        row, col = divmod(n, 2)
        assert col * 320 <= p.x and p.x + p.width <= (col + 1) * 320
        assert row * 213 <= p.y and p.y + p.height <= (row + 1) * 213
        assert (canvas[p.y:p.y + p.height, p.x:p.x + p.width] == 10 * n).all()
    _, three = stack(frames[:3], 640)
    assert [(p.width, p.height) for p in three] == [(379, 213)] * 3
    _, five = stack(frames[:5], 640)  # five take the six-frame grid, one cell left grey
    assert len(five) == 5 and five[0].scale == 0.25
    boxes = [[p.x + 400 * p.scale, p.y + 200 * p.scale, p.x + 600 * p.scale, p.y + 700 * p.scale] for p in placed]
    dets = Detections.from_lists(boxes, [0.9] * 6, ["person"] * 6)
    for part in unstack(dets, placed):
        assert len(part) == 1 and np.allclose(part.xyxy[0], [400, 200, 600, 700], atol=0.01)


def test_six_cameras_in_one_input_each_get_their_own_people(coco_detector: Detector, shared_dir: Path) -> None:
    zidane = read_image(shared_dir, "zidane.jpg")  # 1280x720, two men filling the frame
    park = read_image(shared_dir, "streetview_people_sitting_park.jpg")[300:869]
    frames = [zidane, park, zidane, park, zidane, park]
    for per_input in (3, 6):
        found = coco_detector.detect_batch(frames, per_input=per_input)
        # Near people survive half size; the park's small, distant ones are partly lost (recall in BENCHMARKS.md).
        assert [Counter(d.class_name)["person"] for d in found[::2]] == [2, 2, 2]
        assert all(1 <= Counter(d.class_name)["person"] for d in found[1::2])
        for d, f in zip(found, frames, strict=True):
            assert ((d.xyxy[:, 2] <= f.shape[1]) & (d.xyxy[:, 3] <= f.shape[0])).all()
