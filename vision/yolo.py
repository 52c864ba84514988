"""Ultralytics YOLO detection and per-camera tracking: the only module in GridWatch that imports ultralytics.

The offline environment and the torchvision fix are applied before the import (see ``vision.offline`` and
``vision.torch_compat``), so importing this module never reaches the network.
"""
from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from gridwatch.settings import VisionSettings
from gridwatch.types import Detections
from vision.offline import prepare_offline
from vision.stacking import Placement, stack, stackable, unstack
from vision.torch_compat import ensure_torchvision

prepare_offline()
ensure_torchvision()

from ultralytics import YOLO  # noqa: E402 - must follow the offline environment and the torchvision fix
from ultralytics.trackers import BOTSORT, BYTETracker  # noqa: E402
from ultralytics.utils import SETTINGS, YAML, IterableSimpleNamespace  # noqa: E402
from ultralytics.utils.checks import check_yaml  # noqa: E402
from ultralytics.utils.tqdm import TQDM as ProgressBar  # noqa: E402,F401 - re-exported: tqdm itself is not installed

log = logging.getLogger(__name__)

# Belt and braces next to YOLO_OFFLINE: Ultralytics' usage analytics stay off even if a host goes online.
if SETTINGS.get("sync"):
    SETTINGS.update({"sync": False})

SUPPORTED_TASKS = ("detect", "pose")
# File suffixes of model formats Ultralytics loads from a single file; folders (OpenVINO, SavedModel, NCNN,
# ...) are recognised by Ultralytics itself.
MODEL_SUFFIXES = (".pt", ".torchscript", ".onnx", ".engine", ".xml", ".tflite", ".pb", ".mnn", ".mlmodel")
# Tracker buffers in Ultralytics' configs are frame counts meant for 30 fps video.
_TRACKER_REFERENCE_FPS = 30.0


class ModelError(RuntimeError):
    """The configured model cannot be used; the message names the path and what is wrong."""


def _is_remote(model: str) -> bool:
    return "://" in model


def _check_model_path(model: str) -> None:
    if _is_remote(model):
        return
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelError(
            f"model not found: {path} (GridWatch runs offline, so weights are never downloaded; "
            "point vision.model at a local .pt/.onnx file or an OpenVINO model folder)"
        )
    if path.is_file() and path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(
            f"not a model file: {path} (a {path.suffix or 'suffix-less'} file; "
            f"expected one of {', '.join(MODEL_SUFFIXES)} or a model folder such as *_openvino_model/)"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _to_detections(result: Any, names: dict[int, str]) -> Detections:
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    data = boxes.data.cpu().numpy()
    class_id = data[:, 5].astype(np.int32)
    keypoints = None
    if getattr(result, "keypoints", None) is not None:
        keypoints = result.keypoints.data.cpu().numpy().astype(np.float32)
    return Detections(
        xyxy=data[:, :4].astype(np.float32),
        confidence=data[:, 4].astype(np.float32),
        class_id=class_id,
        class_name=tuple(names.get(int(c), str(int(c))) for c in class_id),
        keypoints=keypoints,
    )


class Detector:
    """One loaded YOLO model; ``detect`` may be called from several camera threads (calls are serialised)."""

    def __init__(self, settings: VisionSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        _check_model_path(settings.model)
        try:
            # Task left to Ultralytics, which reads it from the export's metadata (a pose model stays pose).
            self._model = YOLO(settings.model)
        except Exception as exc:
            raise ModelError(f"model {settings.model} failed to load: {_first_line(exc)}") from exc
        self.task: str = str(self._model.task)
        if self.task not in SUPPORTED_TASKS:
            raise ModelError(
                f"model {settings.model} is a {self.task!r} model; GridWatch needs one of {SUPPORTED_TASKS}"
            )
        try:
            # The first call builds the predictor and compiles the network; do it now, not on the first frame.
            self._predict([np.zeros((settings.imgsz, settings.imgsz, 3), dtype=np.uint8)])
            names = self._model.names
        except Exception as exc:
            raise ModelError(f"model {settings.model} failed to run: {_first_line(exc)}") from exc
        self.names: dict[int, str] = {int(k): str(v) for k, v in names.items()}
        self.parallel = _parallel_openvino(self._model, settings)
        log.info("loaded %s model %s (%d classes, imgsz %d, device %s)",
                 self.task, settings.model, len(self.names), settings.imgsz, settings.device)

    def _predict(self, images: list[npt.NDArray[np.uint8]]) -> list[Any]:
        with self._lock:
            return list(
                self._model.predict(
                    images,
                    conf=self.settings.confidence,
                    imgsz=self.settings.imgsz,
                    device=self.settings.device,
                    verbose=False,
                )
            )

    def detect(self, image: npt.NDArray[np.uint8]) -> Detections:
        """Detections in one BGR image, in its own pixel coordinates."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[npt.NDArray[np.uint8]], per_input: int = 1) -> list[Detections]:
        """Detections for several BGR images (one model call), in input order, in each image's own pixels.

        ``per_input`` > 1: wide frames go up to that many to a model input (``vision.stacking``); the last,
        smaller group takes the smallest layout that holds it, a frame left alone is letterboxed as usual.
        """
        if not images:
            return []
        if per_input <= 1 or len(images) < 2:
            return [_to_detections(r, self.names) for r in self._predict(images)]
        wide = [i for i, im in enumerate(images) if stackable(im)]
        groups = [tuple(wide[k:k + per_input]) for k in range(0, len(wide), per_input)]
        grouped = {i for group in groups if len(group) > 1 for i in group}
        inputs: list[npt.NDArray[np.uint8]] = []
        plan: list[tuple[tuple[int, ...], tuple[Placement, ...] | None]] = []
        for group in groups:
            if len(group) > 1:
                canvas, placements = stack([images[i] for i in group], self.settings.imgsz)
                inputs.append(canvas)
                plan.append((group, placements))
        for i, image in enumerate(images):
            if i not in grouped:
                inputs.append(image)
                plan.append(((i,), None))
        out: list[Detections] = [Detections.empty()] * len(images)
        for result, (where, placed) in zip(self._predict(inputs), plan, strict=True):
            dets = _to_detections(result, self.names)
            if placed is None:
                out[where[0]] = dets
            else:
                for i, part in zip(where, unstack(dets, placed), strict=True):
                    out[i] = part
        return out


def _parallel_openvino(model: YOLO, settings: VisionSettings) -> int:
    """Run the images of a batch as parallel OpenVINO infer requests; returns how many (1 = unchanged).

    Ultralytics compiles OpenVINO models for latency (all cores on one image) and runs a batch image by image
    (the shared exports have a fixed batch of 1 and cannot be reshaped). On a busy machine one image spread
    over all cores waits for its slowest thread; separate requests of one thread each keep every core busy,
    so a worker batching several cameras gets more frames through. Other backends are left alone.
    """
    requests = settings.openvino_requests
    auto: Any = getattr(getattr(model, "predictor", None), "model", None)
    backend: Any = getattr(auto, "backend", None)
    if requests <= 1 or auto is None or type(backend).__name__ != "OpenVINOBackend":
        return 1
    devices = list(backend.ov_compiled_model.get_property("EXECUTION_DEVICES"))
    if devices != ["CPU"]:
        return 1  # an accelerator has its own batching; keep Ultralytics' way
    path = Path(settings.model)
    xml = path if path.is_file() else next(path.glob("*.xml"))
    core = backend.ov.Core()
    compiled = core.compile_model(core.read_model(str(xml)), "CPU", {
        "PERFORMANCE_HINT": "THROUGHPUT", "PERFORMANCE_HINT_NUM_REQUESTS": str(requests)})
    pool: queue.Queue[Any] = queue.Queue()
    for _ in range(requests):
        pool.put(compiled.create_infer_request())
    outputs = len(compiled.outputs)
    latency_forward = backend.forward  # Ultralytics' own: all cores on one image, best for a single image
    in_fan_out = threading.local()

    def forward(im: torch.Tensor) -> list[npt.NDArray[np.float32]]:
        if not getattr(in_fan_out, "active", False):
            return list(latency_forward(im))
        x = im.cpu().numpy().astype(np.float32, copy=False)
        request = pool.get()
        try:
            request.infer({0: x})  # synchronous; releases the GIL while it runs
            # Copied: the request's buffers are reused by its next image.
            return [np.array(request.get_output_tensor(i).data, copy=True) for i in range(outputs)]
        finally:
            pool.put(request)

    one_by_one = auto.forward
    executor = ThreadPoolExecutor(requests, thread_name_prefix="ov-infer")

    def one_request(x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        in_fan_out.active = True
        return one_by_one(x, *args, **kwargs)

    def fan_out(im: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if im.shape[0] <= 1:
            return one_by_one(im, *args, **kwargs)
        parts = list(executor.map(lambda x: one_request(x, *args, **kwargs), im.split(1)))
        if isinstance(parts[0], (list, tuple)):
            return [torch.cat(t) for t in zip(*parts, strict=True)]
        return torch.cat(parts)

    backend.forward = forward
    auto.forward = fan_out
    return requests


class _TrackerInput:
    """Our Detections in the shape Ultralytics' trackers read (``conf``, ``cls``, ``xywh``, ``xyxy``, masks)."""

    def __init__(self, xyxy: npt.NDArray[np.float32], conf: npt.NDArray[np.float32],
                 cls: npt.NDArray[np.float32]) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls

    @classmethod
    def from_detections(cls, dets: Detections) -> _TrackerInput:
        return cls(dets.xyxy.astype(np.float32), dets.confidence.astype(np.float32),
                   dets.class_id.astype(np.float32))

    @property
    def xywh(self) -> npt.NDArray[np.float32]:
        out = np.empty_like(self.xyxy)
        out[:, :2] = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        out[:, 2:] = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return out

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: Any) -> _TrackerInput:
        return _TrackerInput(self.xyxy[mask].reshape(-1, 4), self.conf[mask], self.cls[mask])


class Tracker:
    """Track ids for one camera's detections over time; never share an instance between cameras."""

    def __init__(self, backend: BYTETracker, name: str) -> None:
        self._backend = backend
        self.name = name

    def update(self, dets: Detections, image: npt.NDArray[np.uint8]) -> Detections:
        """Feed one frame's detections; returns those that belong to a confirmed track, with ``track_id`` set.

        Boxes stay the detector's own (not the Kalman estimate), so they match the pixels of ``image``.
        """
        rows = self._backend.update(_TrackerInput.from_detections(dets), image)
        if len(rows) == 0:
            return dets[np.zeros(len(dets), dtype=bool)]
        idx = rows[:, -1].astype(np.int64)
        picked = dets[list(idx)]
        return Detections(
            xyxy=picked.xyxy,
            confidence=picked.confidence,
            class_id=picked.class_id,
            class_name=picked.class_name,
            track_id=rows[:, 4].astype(np.int64),
            keypoints=picked.keypoints,
        )

    def reset(self) -> None:
        """Forget all tracks (e.g. after a reconnect, when the scene may have changed); ids restart at 1."""
        self._backend.reset()


_TRACKERS: dict[str, type[BYTETracker]] = {"bytetrack": BYTETracker, "botsort": BOTSORT}


def make_tracker(settings: VisionSettings, fps: float) -> Tracker:
    """A fresh tracker for one camera from the settings' tracker yaml, its memory scaled to ``fps``."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    try:
        cfg_path = check_yaml(settings.tracker)
        cfg = IterableSimpleNamespace(**YAML.load(cfg_path))
    except Exception as exc:
        raise ModelError(f"tracker config {settings.tracker} cannot be read: {_first_line(exc)}") from exc
    kind = str(getattr(cfg, "tracker_type", ""))
    if kind not in _TRACKERS:
        raise ModelError(f"tracker config {settings.tracker}: tracker_type {kind!r} is not one of {sorted(_TRACKERS)}")
    if getattr(cfg, "with_reid", False) and getattr(cfg, "model", "auto") == "auto":
        # "auto" ReID reads features from inside the detector, which our detect/track split does not expose.
        raise ModelError(f"tracker config {settings.tracker}: with_reid needs an explicit ReID model, not 'auto'")
    # Same time span of memory whatever the detection rate (the config counts frames at 30 fps).
    cfg.track_buffer = max(1, round(float(cfg.track_buffer) * fps / _TRACKER_REFERENCE_FPS))
    cfg.device = settings.device
    return Tracker(_TRACKERS[kind](args=cfg), name=kind)
