"""The lecture's box operations written out step by step: IoU, greedy NMS, RoI max pooling and
average precision (VOC all-point and COCO 101-point interpolation).

They are for reading and for switching against the library versions (`ops.nms=scratch`,
`ops.iou=scratch`, `model.box_roi_pool=roi_pool_scratch`); tests check that they give the same
numbers as torchvision and torchmetrics. The library versions stay the defaults: they are
faster and run on every device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: `a (N, 4)`, `b (M, 4)` -> `(N, M)`.

    IoU = area of the intersection / area of the union; the intersection is the overlap of
    the two boxes' x and y ranges (zero when they do not overlap).
    """
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    left = torch.maximum(a[:, None, 0], b[None, :, 0])
    top = torch.maximum(a[:, None, 1], b[None, :, 1])
    right = torch.minimum(a[:, None, 2], b[None, :, 2])
    bottom = torch.minimum(a[:, None, 3], b[None, :, 3])
    intersection = (right - left).clamp(min=0) * (bottom - top).clamp(min=0)
    return intersection / (area_a[:, None] + area_b[None, :] - intersection)


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    iou: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = box_iou,
) -> torch.Tensor:
    """Greedy non-maximum suppression: take the highest-scoring box that is left, keep it,
    drop every remaining box that overlaps it by more than `iou_threshold`; repeat.

    Returns the indices of the kept boxes, highest score first.
    """
    remaining = torch.argsort(scores, descending=True)
    keep = []
    while remaining.numel():
        best, remaining = remaining[0], remaining[1:]
        keep.append(best)
        overlaps = iou(boxes[best].unsqueeze(0), boxes[remaining]).squeeze(0)
        remaining = remaining[overlaps <= iou_threshold]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long, device=boxes.device)


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    iou_threshold: float,
    iou: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = box_iou,
) -> torch.Tensor:
    """NMS within each class (boxes of different classes never suppress each other); indices
    of the kept boxes, highest score first."""
    keep = []
    for c in classes.unique():
        members = torch.nonzero(classes == c).squeeze(1)
        keep.append(members[nms(boxes[members], scores[members], iou_threshold, iou)])
    if not keep:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    kept = torch.cat(keep)
    return kept[torch.argsort(scores[kept], descending=True)]


def roi_pool(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float,
) -> torch.Tensor:
    """Fast R-CNN's RoI max pooling. `features (N, C, H, W)`, `rois (K, 5)` rows of
    `(image index, x1, y1, x2, y2)` in input pixels -> `(K, C, h, w)`.

    Each RoI is mapped onto the feature map and rounded to whole cells (the quantisation that
    RoIAlign removes), split into an h x w grid of bins (bin edges rounded outwards), and each
    bin keeps its maximum; an empty bin gives 0.
    """
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    _, channels, height, width = features.shape
    pooled = features.new_zeros((len(rois), channels, out_h, out_w))
    for k, (index, *corners) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (math.floor(c * spatial_scale + 0.5) for c in corners)
        bin_h = max(y2 - y1 + 1, 1) / out_h
        bin_w = max(x2 - x1 + 1, 1) / out_w
        for i in range(out_h):
            top = min(max(math.floor(i * bin_h) + y1, 0), height)
            bottom = min(max(math.ceil((i + 1) * bin_h) + y1, 0), height)
            for j in range(out_w):
                left = min(max(math.floor(j * bin_w) + x1, 0), width)
                right = min(max(math.ceil((j + 1) * bin_w) + x1, 0), width)
                if bottom > top and right > left:
                    region = features[int(index), :, top:bottom, left:right]
                    pooled[k, :, i, j] = region.amax(dim=(1, 2))
    return pooled


def average_precision(recall: np.ndarray, precision: np.ndarray, method: str = "coco") -> float:
    """Area under a precision-recall curve given at each detection (recall rising).

    The precision is first made monotone (at each recall, the best precision at that recall
    or higher). `voc`: the exact area of that step curve (all-point interpolation, VOC 2010+).
    `coco`: its mean at the 101 recalls 0, 0.01, ..., 1 (0 past the highest recall reached).
    """
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    recall = np.asarray(recall, dtype=np.float64)
    if method == "voc":
        steps = np.diff(np.concatenate([[0.0], recall]))
        return float(np.sum(steps * envelope))
    if method == "coco":
        thresholds = np.linspace(0.0, 1.0, 101)
        at = np.searchsorted(recall, thresholds, side="left")
        sampled = np.where(at < len(recall), envelope[np.minimum(at, len(recall) - 1)], 0.0)
        return float(sampled.mean())
    raise ValueError(f"method={method!r}; choose 'voc' or 'coco'")


def _match(pred: dict, target: dict, label: int, iou_threshold: float, iou) -> np.ndarray:
    """COCO-style greedy matching in one image and class: each detection, best score first,
    takes the unmatched ground-truth box it overlaps most (IoU >= threshold). Returns the
    detections' scores and whether each was matched, as `(K, 2)`."""
    mine = pred["labels"] == label
    boxes, scores = pred["boxes"][mine], pred["scores"][mine]
    order = torch.argsort(scores, descending=True, stable=True)
    boxes, scores = boxes[order], scores[order]
    truth = target["boxes"][target["labels"] == label]
    matched = torch.zeros(len(truth), dtype=torch.bool)
    hits = []
    overlaps = iou(boxes, truth) if len(boxes) and len(truth) else None
    for d in range(len(boxes)):
        best, best_iou = -1, min(iou_threshold, 1 - 1e-10)
        for g in range(len(truth)):
            if not matched[g] and overlaps[d, g] >= best_iou:
                best, best_iou = g, float(overlaps[d, g])
        if best >= 0:
            matched[best] = True
        hits.append((float(scores[d]), best >= 0))
    return np.asarray(hits, dtype=np.float64).reshape(-1, 2)


def mean_average_precision(
    preds: list[dict],
    targets: list[dict],
    iou_thresholds: tuple[float, ...] = (0.5,),
    method: str = "coco",
    iou: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = box_iou,
) -> float:
    """mAP over the classes that have ground truth, averaged over `iou_thresholds`.

    Per class and threshold: detections of every image are matched (see `_match`), sorted by
    score, and accumulated into precision = TP / detections so far and recall = TP / ground
    truths; AP is the area under that curve (`average_precision`). `(0.5,)` gives mAP50;
    `numpy.linspace(0.5, 0.95, 10)` with `coco` gives COCO's mAP@[.5:.95].
    """
    labels = torch.cat([t["labels"] for t in targets]).unique().tolist()
    per_threshold = []
    for threshold in iou_thresholds:
        aps = []
        for label in labels:
            hits = np.concatenate(
                [_match(p, t, label, threshold, iou) for p, t in zip(preds, targets, strict=True)]
            )
            positives = sum(int((t["labels"] == label).sum()) for t in targets)
            order = np.argsort(-hits[:, 0], kind="mergesort")
            tp = np.cumsum(hits[order, 1])
            precision = tp / np.arange(1, len(tp) + 1)
            aps.append(average_precision(tp / positives, precision, method) if len(tp) else 0.0)
        per_threshold.append(np.mean(aps))
    return float(np.mean(per_threshold))
