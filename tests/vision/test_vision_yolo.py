"""Real YOLO weights from ../shared: what the detector finds, how bad models are reported, tracking ids."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gridwatch.settings import VisionSettings
from vision.yolo import Detector, ModelError, make_tracker


def _image(shared_dir: Path, name: str) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(shared_dir / "images" / name))
    assert img is not None, f"could not read {name}"
    return np.asarray(img, dtype=np.uint8)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(VisionSettings())  # the default: yolo11n int8 OpenVINO at 640


@pytest.fixture(scope="module")
def street_frames(shared_dir: Path) -> Iterator[list[npt.NDArray[np.uint8]]]:
    cap = cv2.VideoCapture(str(shared_dir / "video" / "towncentre_street_pedestrians_1080p.mp4"))
    frames: list[npt.NDArray[np.uint8]] = []
    while len(frames) < 20:
        ok, frame = cap.read()
        assert ok, f"clip ended after {len(frames)} frames"
        frames.append(np.asarray(frame, dtype=np.uint8))
    cap.release()
    yield frames


def test_default_model_finds_four_people_and_a_bus(detector: Detector, shared_dir: Path) -> None:
    img = _image(shared_dir, "bus.jpg")
    dets = detector.detect(img)
    assert Counter(dets.class_name) == {"person": 4, "bus": 1}
    assert detector.names[0] == "person"
    assert all(detector.names[int(c)] == n for c, n in zip(dets.class_id, dets.class_name, strict=True))
    assert (dets.track_id == -1).all()  # ids come from a tracker, not the detector
    h, w = img.shape[:2]
    assert (dets.xyxy[:, [0, 2]] >= -1).all() and (dets.xyxy[:, [0, 2]] <= w + 1).all()
    assert (dets.xyxy[:, [1, 3]] >= -1).all() and (dets.xyxy[:, [1, 3]] <= h + 1).all()
    assert (dets.confidence >= VisionSettings().confidence).all()
    assert dets.keypoints is None


def test_batch_gives_one_result_per_image_in_order(detector: Detector, shared_dir: Path) -> None:
    bus, zidane = _image(shared_dir, "bus.jpg"), _image(shared_dir, "zidane.jpg")
    out = detector.detect_batch([zidane, bus])
    assert len(out) == 2
    assert Counter(out[0].class_name)["person"] == 2
    assert Counter(out[1].class_name) == {"person": 4, "bus": 1}
    assert detector.detect_batch([]) == []


def test_onnx_model_at_320_finds_the_same(shared_dir: Path) -> None:
    # The int8 ONNX export is fixed at 320; its fourth, half-hidden person scores ~0.3, hence Ultralytics'
    # default threshold here.
    det = Detector(VisionSettings(model=str(shared_dir / "models" / "yolo11n_int8.onnx"), imgsz=320, confidence=0.25))
    dets = det.detect(_image(shared_dir, "bus.jpg"))
    assert Counter(dets.class_name) == {"person": 4, "bus": 1}


def test_pose_model_fills_keypoints(shared_dir: Path) -> None:
    det = Detector(VisionSettings(model=str(shared_dir / "models" / "yolov8n-pose_int8_openvino_model")))
    assert det.task == "pose"
    dets = det.detect(_image(shared_dir, "zidane.jpg"))
    assert set(dets.class_name) == {"person"} and len(dets) == 2
    assert dets.keypoints is not None and dets.keypoints.shape == (2, 17, 3)


def test_missing_model_is_reported_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "yolo11n_openvino_model"
    with pytest.raises(ModelError, match="model not found") as err:
        Detector(VisionSettings(model=str(missing)))
    assert str(missing) in str(err.value)


def test_a_picture_given_as_model_is_reported(shared_dir: Path) -> None:
    jpeg = shared_dir / "images" / "bus.jpg"
    with pytest.raises(ModelError, match="not a model file") as err:
        Detector(VisionSettings(model=str(jpeg)))
    assert str(jpeg) in str(err.value)


def test_a_corrupt_model_file_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelError, match="failed to load|failed to run") as err:
        Detector(VisionSettings(model=str(broken)))
    assert str(broken) in str(err.value)


def test_tracking_keeps_person_ids_stable(detector: Detector, street_frames: list[npt.NDArray[np.uint8]]) -> None:
    tracker = make_tracker(VisionSettings(), fps=25.0)
    ids_at: dict[int, set[int]] = {}
    for n, frame in enumerate(street_frames, start=1):
        tracked = tracker.update(detector.detect(frame), frame)
        assert (tracked.track_id >= 1).all()
        assert len(set(tracked.track_id.tolist())) == len(tracked)  # one box per id
        ids_at[n] = {int(t) for t, c in zip(tracked.track_id, tracked.class_name, strict=True) if c == "person"}
    assert len(ids_at[20]) >= 8, f"expected a street full of people, tracked {ids_at[20]}"
    kept = ids_at[20] & ids_at[10]
    assert len(kept) > len(ids_at[20]) / 2, f"ids at frame 10 {ids_at[10]} vs frame 20 {ids_at[20]}"


def test_each_camera_has_its_own_ids(detector: Detector, street_frames: list[npt.NDArray[np.uint8]]) -> None:
    cam_a, cam_b = make_tracker(VisionSettings(), fps=25.0), make_tracker(VisionSettings(), fps=25.0)
    for frame in street_frames[:3]:
        cam_a.update(detector.detect(frame), frame)
    # Camera b sees the same street later; its ids start afresh instead of continuing camera a's count.
    frame = street_frames[0]
    first_b = cam_b.update(detector.detect(frame), frame)
    assert sorted(first_b.track_id.tolist()) == list(range(1, len(first_b) + 1))


def test_tracker_with_no_detections_returns_none(detector: Detector) -> None:
    tracker = make_tracker(VisionSettings(), fps=5.0)
    blank = np.zeros((360, 640, 3), dtype=np.uint8)
    out = tracker.update(detector.detect(blank), blank)
    assert len(out) == 0


def test_unknown_tracker_config_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "mytracker.yaml"
    bad.write_text("tracker_type: sort\ntrack_buffer: 30\n")
    with pytest.raises(ModelError, match="tracker_type 'sort'"):
        make_tracker(VisionSettings(tracker=str(bad)), fps=5.0)
