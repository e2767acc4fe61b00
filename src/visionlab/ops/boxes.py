"""Box formats and the YOLOv1 grid encoding/decoding.

Conventions: boxes are absolute pixel `xyxy` unless named otherwise. A YOLOv1 prediction tensor
is `(N, S, S, 5B + C)`: per cell, B boxes `(x, y, w, h, confidence)` with x, y the centre
relative to the cell and w, h relative to the image (in [0, 1] when right; raw network
outputs may leave that range and decoding clamps them), then C class
probabilities. A YOLOv1 target tensor is `(N, S, S, 5 + C)`: `(has_object, x, y, w, h)` in the
same units, then a one-hot class.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision.ops import batched_nms, clip_boxes_to_image

from visionlab.ops.limits import DetectionLimits


def elementwise_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """IoU of aligned pairs of xyxy boxes `(..., 4)` -> `(...)` (torchvision.ops.box_iou is
    pairwise, N x M)."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter + eps)


def cell_to_image_xyxy(xywh: torch.Tensor) -> torch.Tensor:
    """`(N, S, S, ..., 4)` cell-relative (x, y, w, h) -> image-relative xyxy in [0, 1]."""
    s = xywh.shape[1]
    index = torch.arange(s, device=xywh.device, dtype=xywh.dtype)
    extra = (1,) * (xywh.dim() - 4)  # trailing dims between the grid and the coordinates
    cx = (index.view(1, 1, s, *extra) + xywh[..., 0]) / s
    cy = (index.view(1, s, 1, *extra) + xywh[..., 1]) / s
    half_w, half_h = xywh[..., 2] / 2, xywh[..., 3] / 2
    return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def encode_yolo_targets(
    targets: list[dict], grid_size: int, num_classes: int, image_size: tuple[int, int]
) -> torch.Tensor:
    """Targets (`boxes` pixel xyxy, `labels`) -> `(N, S, S, 5 + C)`.

    The cell holding a box's centre is responsible for it; a centre on the far border belongs
    to the last cell. A cell holds one object: when several centres fall into one cell the
    largest box is kept and the others are not trained on.
    """
    height, width = image_size
    s = grid_size
    device = targets[0]["boxes"].device if targets else "cpu"
    out = torch.zeros(len(targets), s, s, 5 + num_classes, device=device)
    for n, target in enumerate(targets):
        boxes, labels = target["boxes"], target["labels"]
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for i in torch.argsort(areas, descending=True).tolist():
            x0, y0, x1, y1 = boxes[i].tolist()
            cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
            col, row = min(int(cx * s), s - 1), min(int(cy * s), s - 1)
            if out[n, row, col, 0] == 1:
                continue
            out[n, row, col, :5] = torch.tensor(
                [1.0, cx * s - col, cy * s - row, (x1 - x0) / width, (y1 - y0) / height]
            )
            out[n, row, col, 5 + int(labels[i])] = 1.0
    return out


def decode_yolo(
    output: torch.Tensor,
    boxes_per_cell: int,
    image_size: tuple[int, int],
    limits: DetectionLimits | None = None,
    nms: Callable = batched_nms,
) -> list[dict[str, torch.Tensor]]:
    """`(N, S, S, 5B + C)` -> per image `{boxes (pixel xyxy), scores, labels}`.

    The class-specific score of a box is P(class | object) x confidence; `limits` (default:
    `DetectionLimits()`) keeps the confident ones, merged per class by NMS (`nms`:
    torchvision's `batched_nms`, or `visionlab.ops.batched_nms_op(...)`).
    """
    limits = limits or DetectionLimits()
    n, s = output.shape[:2]
    b = boxes_per_cell
    height, width = image_size
    boxes = output[..., : 5 * b].reshape(n, s, s, b, 5)
    probs = output[..., 5 * b :]
    xyxy = cell_to_image_xyxy(boxes[..., :4]) * output.new_tensor([width, height, width, height])
    xyxy = clip_boxes_to_image(xyxy, image_size)
    scores = boxes[..., 4:5].clamp(0, 1) * probs.unsqueeze(3)  # (N, S, S, B, C)
    return [
        limits.select(xyxy[i].reshape(-1, 4), scores[i].flatten(end_dim=-2), nms) for i in range(n)
    ]
