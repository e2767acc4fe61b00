"""Segmentation scores from a confusion matrix, mean average precision whose states survive
uneven evaluation shards under DDP, and the detection confusion matrix."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torchmetrics import Metric
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import box_iou


def segmentation_scores(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-class IoU and Dice, their means over the classes present, and pixel accuracy.

    IoU_c = TP / (TP + FP + FN) and Dice_c = 2TP / (2TP + FP + FN). A class with no true pixel
    gets NaN for both and takes no part in the means (`mIoU`, `dice`).
    """
    confusion = confusion.double()
    tp = confusion.diagonal()
    true, predicted = confusion.sum(dim=1), confusion.sum(dim=0)
    present = true > 0
    nan = torch.full_like(tp, float("nan"))
    iou = torch.where(present, tp / (true + predicted - tp).clamp(min=1), nan)
    dice = torch.where(present, 2 * tp / (true + predicted).clamp(min=1), nan)
    return {
        "mIoU": iou.nanmean(),
        "dice": dice.nanmean(),
        "pixel_acc": tp.sum() / confusion.sum().clamp(min=1),
        "iou_per_class": iou,
        "dice_per_class": dice,
    }


SIZE_SUFFIXES = ("_small", "_medium", "_large")


class ShardedMeanAveragePrecision(MeanAveragePrecision):
    """torchmetrics' MeanAveragePrecision, synchronised by gathering each rank's per-image
    states as Python objects, with COCO's "undefined" value (-1) made explicit.

    The base class gathers its per-image lists element by element, which needs the same number
    of images on every rank; evaluation shards are uneven here (no image is repeated to pad
    them), so the lists are gathered whole and joined in rank order.

    A -1 in an AP or AR value becomes 0.0 where there are ground-truth objects to find (no
    detection found them; the mask evaluation reports -1 when nothing was detected at all)
    and NaN where there are none (a split, class or size range without objects).
    """

    def compute(self) -> dict:
        result = super().compute()  # states are gathered across ranks while this runs
        labels = [t.reshape(-1) for t in self.groundtruth_labels]
        present = torch.cat(labels).unique() if labels else torch.zeros(0, dtype=torch.long)
        for key, value in result.items():
            if not key.startswith(("map", "mar")):
                continue
            if key.endswith("_per_class"):  # in the order of result["classes"]
                defined = torch.isin(result["classes"].reshape(-1), present.to(value.device))
            else:  # an empty tensor when there was nothing to evaluate at all
                value = value.reshape(-1)[0] if value.numel() else value.new_tensor(-1.0)
                defined = torch.tensor(len(present) > 0 and not key.endswith(SIZE_SUFFIXES))
            fill = torch.where(defined, 0.0, float("nan")).to(value)
            result[key] = torch.where(value < 0, fill, value.float())
        return result

    def _sync_dist(self, dist_sync_fn=None, process_group=None) -> None:
        # overrides a private torchmetrics method: its `dist_sync_fn` issues one collective per
        # list element, so ranks with different numbers of images would wait on each other
        world_size = dist.get_world_size(group=process_group)
        for name, default in self._defaults.items():
            if not isinstance(default, list):
                continue
            local = [x.cpu() if isinstance(x, torch.Tensor) else x for x in getattr(self, name)]
            gathered = [None] * world_size
            dist.all_gather_object(gathered, local, group=process_group)
            joined = [x for part in gathered for x in part]
            setattr(
                self,
                name,
                [x.to(self.device) if isinstance(x, torch.Tensor) else x for x in joined],
            )


def best_first(pred: dict, score_threshold: float) -> dict[str, torch.Tensor]:
    """An image's boxes, labels and scores scoring at least `score_threshold`, best first."""
    keep = pred["scores"] >= score_threshold
    order = pred["scores"][keep].argsort(descending=True)
    return {key: pred[key][keep][order] for key in ("boxes", "labels", "scores")}


def match_detections(
    boxes: torch.Tensor, true_boxes: torch.Tensor, iou_threshold: float = 0.5
) -> torch.Tensor:
    """For detections sorted best first, the index of the object each matches, -1 for none:
    each takes the unmatched object it overlaps most when their IoU reaches `iou_threshold`."""
    overlaps = box_iou(boxes.float(), true_boxes.float())
    taken = torch.zeros(len(true_boxes), dtype=torch.bool, device=boxes.device)
    matches = torch.full((len(boxes),), -1, dtype=torch.long)
    for index, row in enumerate(overlaps):
        row = row.masked_fill(taken, -1.0)
        best = int(row.argmax()) if len(row) else -1
        if best >= 0 and row[best] >= iou_threshold:
            taken[best] = True
            matches[index] = best
    return matches


class DetectionConfusionMatrix(Metric):
    """Object counts per (true class, predicted class), rows true, with a background row
    (predictions that matched no object) and a background column (objects no prediction
    matched), as its last row and column.

    Per image, the predictions scoring at least `score_threshold` are taken best first; each
    matches the unmatched object it overlaps most when their IoU reaches `iou_threshold`,
    whatever the classes, so a wrong class counts as a confusion rather than a miss and a
    false alarm. The counts are summed over DDP ranks.
    """

    full_state_update = False

    def __init__(
        self, num_classes: int, iou_threshold: float = 0.5, score_threshold: float = 0.25
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.iou_threshold, self.score_threshold = iou_threshold, score_threshold
        size = num_classes + 1
        self.add_state("matrix", torch.zeros(size, size, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: list[dict], targets: list[dict]) -> None:
        background = self.num_classes
        for pred, target in zip(preds, targets, strict=True):
            kept = best_first(pred, self.score_threshold)
            true_labels = target["labels"].tolist()
            matches = match_detections(kept["boxes"], target["boxes"], self.iou_threshold).tolist()
            for label, index in zip(kept["labels"].tolist(), matches, strict=True):
                self.matrix[true_labels[index] if index >= 0 else background, label] += 1
            for index in sorted(set(range(len(true_labels))) - set(matches)):
                self.matrix[true_labels[index], background] += 1

    def compute(self) -> torch.Tensor:
        return self.matrix
