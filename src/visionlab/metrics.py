"""Segmentation scores from a confusion matrix (rows: true class, columns: predicted)."""

from __future__ import annotations

import torch


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
