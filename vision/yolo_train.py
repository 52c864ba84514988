"""`gridwatch dataset train`: fine-tune an Ultralytics detector on an exported dataset, export it to OpenVINO
int8 and measure it on the dataset's val split.

Why a second module that imports Ultralytics: ``vision.yolo`` is the run-time adapter (a loaded model behind
our ``Detections``); training, export and validation are Ultralytics' trainer, exporter and validator, which
the workers never load. As there, the offline environment and the torchvision fix come before the import,
and Ultralytics never reaches the network:
``plots=False`` (plots would fetch Arial.ttf) and ``amp=False`` (the AMP check on a GPU downloads yolo26n.pt).
"""
from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gridwatch.categories import CATEGORIES
from vision.offline import prepare_offline
from vision.torch_compat import ensure_torchvision

prepare_offline()
ensure_torchvision()

from ultralytics import YOLO  # noqa: E402 - must follow the offline environment and the torchvision fix

log = logging.getLogger(__name__)

DATA_YAML = "data.yaml"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
EpochReport = Callable[["EpochLine"], None]


class TrainError(ValueError):
    """The base checkpoint or the dataset cannot be used; the message names the file or folder."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Dataset:
    folder: Path
    names: dict[int, str]  # class id -> name, as data.yaml has them
    train_images: int
    val_images: int


@dataclass(frozen=True, slots=True)
class EpochLine:
    epoch: int  # 1-based
    epochs: int
    losses: dict[str, float]
    map50: float | None
    seconds: float  # since training started

    def text(self) -> str:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in self.losses.items())
        val = f", val mAP50 {self.map50:.3f}" if self.map50 is not None else ""
        return f"epoch {self.epoch}/{self.epochs}: {losses}{val} ({self.seconds:.0f} s)"


@dataclass(frozen=True, slots=True)
class Scores:
    """Ultralytics' val on the dataset's val split."""

    map50: float
    map50_95: float
    precision: float
    recall: float
    images: int

    def text(self) -> str:
        return (f"mAP50 {self.map50:.3f}, mAP50-95 {self.map50_95:.3f}, precision {self.precision:.3f}, "
                f"recall {self.recall:.3f} on {self.images} val images")


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else 0


def read_dataset(folder: Path) -> Dataset:
    """The dataset ``gridwatch dataset export`` wrote (data.yaml, images/train, images/val), checked."""
    data = folder / DATA_YAML
    if not folder.is_dir():
        raise TrainError(f"dataset folder not found: {folder}")
    if not data.is_file():
        raise TrainError(f"{folder} has no {DATA_YAML}; give the folder `gridwatch dataset export --out` wrote")
    try:
        spec = yaml.safe_load(data.read_text(encoding="utf-8"))
        raw = spec["names"]
        names = {int(k): str(v) for k, v in (raw.items() if isinstance(raw, dict) else enumerate(raw))}
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TrainError(f"{data}: not a YOLO data.yaml with class names ({_first_line(exc)})") from exc
    if not names:
        raise TrainError(f"{data} names no classes")
    counts = {side: _count_images(folder / str(spec.get(side, f"images/{side}"))) for side in ("train", "val")}
    for side, n in counts.items():
        if n == 0:
            raise TrainError(f"{folder}: no {side} images ({spec.get(side, f'images/{side}')} is empty or missing); "
                             "export more verdicts so that both splits have places")
    return Dataset(folder.resolve(), names, counts["train"], counts["val"])


def class_categories(names: dict[int, str], extra: dict[str, str]) -> dict[str, str]:
    """Class name -> issue category: names ``gridwatch dataset export`` wrote start with their code
    ("0502 vagrancy and begging"); others must be given (``extra``). Raises naming the unmapped ones."""
    out: dict[str, str] = {}
    missing: list[str] = []
    for name in names.values():
        code = extra.get(name) or name.split(" ", 1)[0]
        if code in CATEGORIES:
            out[name] = code
        else:
            missing.append(name)
    if missing:
        raise TrainError(f"classes without an issue category: {', '.join(missing)} (map each with "
                         "--category NAME=CODE, e.g. --category vendor_cart=0501)")
    return out


def load_base(path: Path) -> YOLO:
    """The checkpoint to fine-tune: an Ultralytics detect ``.pt``; anything else raises naming the file."""
    if not path.is_file():
        raise TrainError(f"base checkpoint not found: {path} (GridWatch never downloads weights)")
    if path.suffix.lower() != ".pt":
        raise TrainError(f"{path}: not a PyTorch checkpoint (.pt); training starts from an Ultralytics .pt")
    try:
        model = YOLO(str(path))
    except Exception as exc:
        raise TrainError(f"{path}: not a readable Ultralytics checkpoint ({_first_line(exc)})") from exc
    if model.task != "detect":
        raise TrainError(f"{path} is a {model.task!r} checkpoint; dataset train fine-tunes a 'detect' model")
    return model


def pick_device(device: str) -> str:
    """``auto``: the first GPU when CUDA is there, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


@contextmanager
def _quiet() -> Iterator[None]:
    """Ultralytics and NNCF log every step at INFO; the command prints its own lines instead."""
    loggers = [logging.getLogger(n) for n in ("ultralytics", "nncf")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _data_yaml(dataset: Dataset, work: Path) -> Path:
    """A copy of data.yaml whose ``path`` is where the dataset is now (export writes where it was then)."""
    spec = yaml.safe_load((dataset.folder / DATA_YAML).read_text(encoding="utf-8"))
    spec["path"] = str(dataset.folder)
    work.mkdir(parents=True, exist_ok=True)
    out = work / DATA_YAML
    out.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def _epoch_line(trainer: Any, started: float) -> EpochLine:
    tloss = getattr(trainer, "tloss", None) or {}  # the epoch's mean of each loss, by name ("box_loss" ...)
    losses = {str(k).replace("_loss", " loss"): float(v) for k, v in tloss.items()}
    metrics = getattr(trainer, "metrics", None) or {}
    m50 = metrics.get("metrics/mAP50(B)")
    return EpochLine(int(trainer.epoch) + 1, int(trainer.epochs), losses, None if m50 is None else float(m50),
                     time.monotonic() - started)


def fine_tune(base: YOLO, dataset: Dataset, run_dir: Path, *, epochs: int, imgsz: int, batch: int, device: str,
              on_epoch: EpochReport | None = None) -> Path:
    """Train ``base`` on the dataset; returns the best checkpoint (by val fitness) in ``run_dir``."""
    data = _data_yaml(dataset, run_dir)
    started = time.monotonic()
    if on_epoch is not None:
        reported: set[int] = set()

        def report(trainer: Any) -> None:
            line = _epoch_line(trainer, started)
            if line.epoch <= line.epochs and line.epoch not in reported:  # the final val fires it once more
                reported.add(line.epoch)
                on_epoch(line)

        base.add_callback("on_fit_epoch_end", report)
    with _quiet():
        base.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, device=device, project=str(run_dir),
                   name="train", exist_ok=True, plots=False, amp=False, workers=0, verbose=False, seed=0,
                   deterministic=True)
    trainer = base.trainer
    best = Path(trainer.best) if trainer is not None and Path(trainer.best).is_file() else None
    if best is None:
        raise TrainError(f"training in {run_dir} ended without a checkpoint")
    return best


def export_int8(checkpoint: Path, dataset: Dataset, imgsz: int) -> Path:
    """OpenVINO int8 (NNCF post-training quantisation); the folder. Calibrated on the train images: more of them
    than val (NNCF asks for 300), and the val images stay apart from everything but the choice of epoch."""
    if importlib.util.find_spec("nncf") is None:
        raise TrainError("the int8 export needs the nncf package (make setup installs it)")
    import nncf  # now, so that _quiet() acts on its logger after nncf set its own level at import

    data = _data_yaml(dataset, checkpoint.parent)
    nncf.set_log_level(logging.WARNING)
    with _quiet():
        out = YOLO(str(checkpoint)).export(format="openvino", quantize=8, data=str(data), split="train",
                                           imgsz=imgsz, batch=1, verbose=False)
    return Path(str(out))


def evaluate(model: Path, dataset: Dataset, imgsz: int, device: str, work: Path) -> Scores:
    """Ultralytics' val of ``model`` (a .pt or an OpenVINO folder) on the dataset's val split (files in ``work``)."""
    data = _data_yaml(dataset, work)
    with _quiet():
        res = YOLO(str(model), task="detect").val(data=str(data), imgsz=imgsz, batch=1, device=device, plots=False,
                                                  workers=0, verbose=False, project=str(data.parent), name="run",
                                                  exist_ok=True)
    box = res.box
    return Scores(float(box.map50), float(box.map), float(box.mp), float(box.mr), dataset.val_images)
