"""Semantic-segmentation losses: cross-entropy, focal, Dice and cross-entropy + Dice, all
honouring an ignore index."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.losses.class_balance import focal_loss

KINDS = ("ce", "focal", "dice", "ce_dice")


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255, smooth: float = 1.0
) -> torch.Tensor:
    """1 − soft Dice, averaged over classes; pixels equal to `ignore_index` take no part.

    `logits`: `(N, C, H, W)`, `target`: `(N, H, W)` class indices.
    """
    num_classes = logits.shape[1]
    valid = target != ignore_index
    probs = logits.softmax(dim=1) * valid.unsqueeze(1)
    one_hot = F.one_hot(target.where(valid, 0), num_classes).permute(0, 3, 1, 2)
    one_hot = one_hot * valid.unsqueeze(1)
    dims = (0, 2, 3)
    intersection = (probs * one_hot).sum(dims)
    total = probs.sum(dims) + one_hot.sum(dims)
    return 1 - ((2 * intersection + smooth) / (total + smooth)).mean()


class SegmentationLoss(nn.Module):
    """`kind`: `ce` (cross-entropy), `focal` (focusing parameter `gamma`), `dice`, or
    `ce_dice` (their sum); class weights apply to the cross-entropy and focal terms."""

    def __init__(
        self,
        kind: str = "ce",
        ignore_index: int = 255,
        class_weights: list[float] | torch.Tensor | None = None,
        gamma: float = 2.0,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"task.loss.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind, self.ignore_index, self.gamma = kind, ignore_index, gamma
        weights = None if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = logits.new_zeros(())
        if self.kind in ("ce", "ce_dice"):
            if (target != self.ignore_index).any():
                loss = loss + F.cross_entropy(
                    logits, target, weight=self.class_weights, ignore_index=self.ignore_index
                )
            else:  # every pixel ignored: no signal, and a mean over nothing would be NaN
                loss = loss + 0 * logits.sum()
        if self.kind == "focal":
            weight = self.class_weights
            loss = loss + focal_loss(logits, target, self.gamma, weight, self.ignore_index)
        if self.kind in ("dice", "ce_dice"):
            loss = loss + dice_loss(logits, target, self.ignore_index)
        return loss
