"""torchvision imports and its NMS keeps the right boxes on CPU torch (compiled ops or our fallback)."""
from __future__ import annotations

import torch

from vision.torch_compat import ensure_torchvision, nms

# Three overlapping boxes around the origin, two around (25, 25); the best of each cluster must survive.
BOXES = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],  # 0: IoU 0.95 with box 3 -> dropped
        [1.0, 1.0, 11.0, 11.0],  # 1: IoU 0.65 with box 3 -> dropped
        [20.0, 20.0, 30.0, 30.0],  # 2: kept, best of its cluster
        [0.0, 0.0, 10.0, 9.5],  # 3: highest score -> kept first
        [21.0, 21.0, 30.0, 30.0],  # 4: IoU 0.81 with box 2 -> dropped
        [50.0, 50.0, 60.0, 60.0],  # 5: alone -> kept though its score is lowest
    ]
)
SCORES = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.6, 0.1])


def test_import_torchvision_works_after_ensure() -> None:
    ensure_torchvision()
    ensure_torchvision()  # idempotent
    import torchvision

    assert torchvision.ops.nms(BOXES, SCORES, 0.5).tolist() == [3, 2, 5]


def test_threshold_decides_what_counts_as_a_duplicate() -> None:
    ensure_torchvision()
    import torchvision

    # At 0.7 box 1 (IoU 0.65 with box 3) is no longer a duplicate; box 4 (0.81) still is.
    assert torchvision.ops.nms(BOXES, SCORES, 0.7).tolist() == [3, 1, 2, 5]
    assert nms(BOXES, SCORES, 0.7).tolist() == [3, 1, 2, 5]


def test_batched_nms_keeps_boxes_of_other_classes() -> None:
    ensure_torchvision()
    import torchvision

    classes = torch.tensor([0, 1, 0, 0, 0, 0])  # box 1 is another class, so box 3 cannot suppress it
    assert sorted(torchvision.ops.batched_nms(BOXES, SCORES, classes, 0.5).tolist()) == [1, 2, 3, 5]


def test_empty_input_keeps_nothing() -> None:
    ensure_torchvision()
    import torchvision

    kept = torchvision.ops.nms(torch.zeros((0, 4)), torch.zeros(0), 0.5)
    assert kept.dtype == torch.long and kept.numel() == 0


def test_fallback_matches_a_brute_force_greedy_nms() -> None:
    gen = torch.Generator().manual_seed(7)
    xy = torch.rand(200, 2, generator=gen) * 100
    boxes = torch.cat([xy, xy + torch.rand(200, 2, generator=gen) * 40 + 1], 1)
    scores = torch.rand(200, generator=gen)

    def brute(threshold: float) -> list[int]:
        keep: list[int] = []
        for i in scores.argsort(descending=True).tolist():
            ious = [_iou(boxes[i], boxes[k]) for k in keep]
            if all(v <= threshold for v in ious):
                keep.append(i)
        return keep

    assert nms(boxes, scores, 0.45).tolist() == brute(0.45)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    w = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = w * h
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union
