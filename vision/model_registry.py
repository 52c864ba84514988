"""The registered detector: a city's own model that `gridwatch dataset train` made, in use by every worker.

``data_dir/models/registry.json`` names the model in use (an OpenVINO folder), the input size it was exported
at and its class -> issue category map (``vision.class_categories``). A worker starts on the model it names
instead of ``vision.model`` (``with_registered``), and a :class:`ModelWatcher` swaps a running worker to a
newly registered one, as ``alerts.filters`` does for verdict filters: it polls one number (the registry's
``version``, raised by every registration) and, when it changed, loads the new model beside the old one and
hands it over; a model that fails to load is logged and the old one kept. Deleting registry.json goes back to
``vision.model`` at the next start. Workers on several machines need ``data_dir`` on a shared volume.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridwatch.loop import Periodic
from gridwatch.settings import Settings, VisionSettings

log = logging.getLogger(__name__)

FOLDER = "models"
REGISTRY = "registry.json"


@dataclass(frozen=True, slots=True)
class Registered:
    version: int
    name: str
    model: str  # absolute path of the exported model (an OpenVINO folder)
    imgsz: int
    class_categories: dict[str, str]
    base: str = ""
    dataset: str = ""
    registered_at: str = ""
    scores: dict[str, Any] = field(default_factory=dict)


def registry_path(data_dir: Path) -> Path:
    return data_dir / FOLDER / REGISTRY


def read(data_dir: Path) -> Registered | None:
    """The model in use, or None (nothing registered, or a registry that cannot be read: logged)."""
    path = registry_path(data_dir)
    if not path.is_file():
        return None
    try:
        return Registered(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        log.error("model registry %s unreadable, vision.model used instead: %s", path, exc)
        return None


def register(data_dir: Path, name: str, model: Path, imgsz: int, class_categories: dict[str, str], *,
             base: str = "", dataset: str = "", scores: dict[str, Any] | None = None) -> Registered:
    """Make ``model`` the one in use (written whole, then renamed: a reader never sees half of it)."""
    previous = read(data_dir)
    entry = Registered(version=(previous.version if previous else 0) + 1, name=name, model=str(model.resolve()),
                       imgsz=imgsz, class_categories=dict(class_categories), base=base, dataset=dataset,
                       registered_at=datetime.now(UTC).isoformat(timespec="seconds"), scores=scores or {})
    path = registry_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(entry), indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return entry


def vision_for(vision: VisionSettings, entry: Registered | None) -> VisionSettings:
    """``vision`` with the registered model, its input size and its classes (added to the configured ones)."""
    if entry is None:
        return vision
    return vision.model_copy(update={"model": entry.model, "imgsz": entry.imgsz,
                                     "class_categories": {**vision.class_categories, **entry.class_categories}})


def with_registered(settings: Settings) -> Settings:
    """The settings a worker starts with: the registered model in place of ``vision.model``, if there is one."""
    entry = read(settings.data_dir)
    if entry is None:
        return settings
    if not Path(entry.model).exists():
        # Keep the centre running on the configured model rather than not at all; the log says why.
        log.error("registered model #%d is gone (%s, named in %s); vision.model %s used instead", entry.version,
                  entry.model, registry_path(settings.data_dir), settings.vision.model)
        return settings
    log.info("registered model #%d %s in use (%s, classes %s)", entry.version, entry.name, entry.model,
             ", ".join(f"{k} -> {v}" for k, v in entry.class_categories.items()))
    return settings.model_copy(update={"vision": vision_for(settings.vision, entry)})


ModelLoader = Callable[[VisionSettings], Any]
ModelUser = Callable[[Any, VisionSettings], object]


class ModelWatcher(Periodic):
    """``start()`` keeps a worker on the registered model: ``load(vision)`` builds a detector for a newly
    registered one (here, beside the model in use), ``use(detector, vision)`` hands it to the worker."""

    def __init__(self, settings: Settings, load: ModelLoader, use: ModelUser, every_seconds: float = 3.0) -> None:
        super().__init__("model-registry", every_seconds)
        self._settings = settings
        self._load = load
        self._use = use
        entry = read(settings.data_dir)
        self.version = entry.version if entry else 0  # the worker started on this one (with_registered)

    def tick(self) -> None:
        self.check()

    def check(self) -> bool:
        """Swap when a newer model was registered; True when it did."""
        entry = read(self._settings.data_dir)
        if entry is None or entry.version == self.version:
            return False
        self.version = entry.version  # tried once: a model that fails to load is not loaded again every round
        vision = vision_for(self._settings.vision, entry)
        try:
            detector = self._load(vision)
        except Exception as exc:  # noqa: BLE001 - a bad model must not stop a worker that runs a good one
            log.error("registered model #%d %s not used, the model in use stays: %s", entry.version, entry.model, exc)
            return False
        self._use(detector, vision)
        log.info("swapped to registered model #%d %s (classes %s)", entry.version, entry.name,
                 ", ".join(entry.class_categories))
        return True
