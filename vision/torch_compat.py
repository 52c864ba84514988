"""Make ``import torchvision`` work on the CPU build of torch.

PyPI's torchvision 0.28.0 is a CUDA build: its compiled ``_C`` library does not load next to CPU torch 2.13,
and then ``import torchvision`` itself fails ("operator torchvision::nms does not exist") because its fake-tensor
registrations expect the ops to exist. Ultralytics imports torchvision during warm-up and prefers its NMS, so
detection breaks. ``ensure_torchvision()`` must run before anything imports torchvision: it loads the real ops
when they work and otherwise registers a pure-torch ``torchvision::nms`` (and ``qnms``) so the import succeeds
and ``torchvision.ops.nms`` gives the same greedy result as the compiled kernel.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from pathlib import Path

import torch

log = logging.getLogger(__name__)

_lock = threading.Lock()
_done = False
_fallback_used = False
# The registration lives as long as this object does, so it is kept for the whole process.
_library: torch.library.Library | None = None

_NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


class TorchvisionError(RuntimeError):
    """torchvision could not be made importable (neither its own ops nor the fallback worked)."""


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression, the same contract as ``torchvision.ops.nms``.

    ``boxes`` are (N, 4) xyxy; a box is dropped when its IoU with an already kept, higher-scoring box is
    greater than ``iou_threshold``. Returns the kept indices (int64) in decreasing score order.
    """
    if boxes.dim() != 2 or boxes.size(1) != 4:
        raise ValueError(f"boxes must be (N, 4), got {tuple(boxes.shape)}")
    if scores.dim() != 1 or scores.size(0) != boxes.size(0):
        raise ValueError(f"scores must be (N,) matching boxes, got {tuple(scores.shape)} for {boxes.size(0)} boxes")
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    b = boxes.float()
    # Stable sort: equal scores keep input order, as torchvision's CPU kernel does.
    order = torch.sort(scores.float(), descending=True, stable=True).indices
    x1, y1, x2, y2 = b.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    keep: list[torch.Tensor] = []
    remaining = order
    # One iteration per kept box (not per candidate): each pass drops everything the kept box suppresses.
    while remaining.numel() > 0:
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        if rest.numel() == 0:
            break
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        # NaN (two empty boxes) compares False, so such a box is kept, like torchvision.
        remaining = rest[~(iou > iou_threshold)]
    return torch.stack(keep).to(torch.long)


def _qnms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    # torchvision hands quantised boxes over as their integer representation.
    return nms(dets.float(), scores.float(), iou_threshold)


def _op_exists(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _compiled_library() -> Path | None:
    """Path of torchvision's ``_C`` library, found without importing torchvision (that import is what fails)."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for candidate in sorted(Path(folder).glob("_C*.so")) + sorted(Path(folder).glob("_C*.pyd")):
            return candidate
    return None


def _try_load_compiled() -> bool:
    lib = _compiled_library()
    if lib is None:
        return False
    try:
        torch.ops.load_library(str(lib))
    except (OSError, RuntimeError) as exc:
        log.info("torchvision's compiled ops do not load with torch %s (%s); using pure-torch NMS",
                 torch.__version__, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return False
    return _op_exists("nms")


def _register_fallback() -> None:
    global _library
    lib = torch.library.Library("torchvision", "FRAGMENT")
    lib.define("nms" + _NMS_SCHEMA)
    lib.define("qnms" + _NMS_SCHEMA)
    # CompositeExplicitAutograd: one pure-torch kernel serves every backend (CPU, CUDA, ...).
    lib.impl("nms", nms, "CompositeExplicitAutograd")
    lib.impl("qnms", _qnms, "CompositeExplicitAutograd")
    _library = lib


def _patch_torchvision_nms_guard() -> None:
    """torchvision.ops.nms refuses to run when the compiled library is absent; let it reach our operator.

    Only the boxes module is patched, so other compiled ops (roi_align ...) still fail with torchvision's own
    clear message instead of pretending to exist.
    """
    import torchvision.ops.boxes as boxes

    def _nms_ops_present() -> None:
        return None

    boxes._assert_has_ops = _nms_ops_present  # type: ignore[attr-defined]


def ensure_torchvision() -> None:
    """Make ``import torchvision`` and ``torchvision.ops.nms`` work; safe to call any number of times."""
    global _done, _fallback_used
    if _done:
        return
    with _lock:
        if _done:
            return
        if not _op_exists("nms") and not _try_load_compiled():
            if "torchvision" in sys.modules:
                # A half-failed earlier import leaves a broken module behind; import it afresh after the fix.
                for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                    del sys.modules[name]
            _register_fallback()
            _fallback_used = True
        try:
            import torchvision  # noqa: F401
        except Exception as exc:
            raise TorchvisionError(f"import torchvision failed even after registering its ops: {exc}") from exc
        if _fallback_used:
            _patch_torchvision_nms_guard()
            log.info("torchvision %s runs with a pure-torch NMS operator", torchvision.__version__)
        _done = True


def using_fallback_nms() -> bool:
    """True when torchvision's NMS is this module's pure-torch operator (after ``ensure_torchvision()``)."""
    return _fallback_used
