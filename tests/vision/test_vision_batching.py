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
    sequential = Detector(VisionSettings(openvino_requests=1, stack_frames=False))
    assert sequential.parallel == 1
    images = [read_image(shared_dir, n) for n in ("zidane.jpg", "bus.jpg", "streetview_people_sitting_park.jpg")]
    parallel = Detector(VisionSettings(stack_frames=False))
    together, apart = parallel.detect_batch(images), sequential.detect_batch(images)
    assert [Counter(d.class_name) for d in together] == [Counter(d.class_name) for d in apart]
    for a, b in zip(together, apart, strict=True):
        assert np.allclose(a.xyxy, b.xyxy, atol=1.0) and np.allclose(a.confidence, b.confidence, atol=0.01)
    assert Counter(together[1].class_name) == {"person": 4, "bus": 1}


def test_stacked_frames_map_back_to_their_own_pixels() -> None:
    top = np.zeros((720, 1280, 3), dtype=np.uint8)
    bottom = np.zeros((360, 640, 3), dtype=np.uint8)
    canvas, (a, b) = stack(top, bottom, 640)
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


def test_stacking_two_cameras_finds_what_each_alone_shows(shared_dir: Path) -> None:
    zidane = read_image(shared_dir, "zidane.jpg")  # 1280x720
    park = read_image(shared_dir, "streetview_people_sitting_park.jpg")[300:869]  # a 16:9 band of the park
    alone = Detector(VisionSettings(stack_frames=False)).detect_batch([zidane, park])
    stacked = Detector(VisionSettings(stack_frames=True)).detect_batch([zidane, park])
    assert Counter(stacked[0].class_name)["person"] == Counter(alone[0].class_name)["person"] == 2
    # Smaller in the stack, the park's people are mostly still found (a few of the smallest may be lost).
    n_alone, n_stacked = Counter(alone[1].class_name)["person"], Counter(stacked[1].class_name)["person"]
    assert n_stacked >= n_alone - 2 and n_stacked >= 5
    for box in stacked[1].xyxy:  # in the park band's own pixels
        assert 0 <= box[0] < box[2] <= 1158 and 0 <= box[1] < box[3] <= 569
