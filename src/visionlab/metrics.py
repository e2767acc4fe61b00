"""Segmentation scores from a confusion matrix, and mean average precision whose states
survive uneven evaluation shards under DDP."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torchmetrics.detection import MeanAveragePrecision


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


class ShardedMeanAveragePrecision(MeanAveragePrecision):
    """torchmetrics' MeanAveragePrecision, synchronised by gathering each rank's per-image
    states as Python objects.

    The base class gathers its per-image lists element by element, which needs the same number
    of images on every rank; evaluation shards are uneven here (no image is repeated to pad
    them), so the lists are gathered whole and joined in rank order.
    """

    def _sync_dist(self, dist_sync_fn=None, process_group=None) -> None:
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
