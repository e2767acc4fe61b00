"""Semantic-segmentation losses: cross-entropy, Dice and their sum, all honouring an ignore
index, and median-frequency class weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("ce", "dice", "ce_dice")


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
    """`kind`: `ce` (cross-entropy, optional class weights), `dice`, or `ce_dice` (their sum)."""

    def __init__(
        self,
        kind: str = "ce",
        ignore_index: int = 255,
        class_weights: list[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"task.loss.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind, self.ignore_index = kind, ignore_index
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
        if self.kind in ("dice", "ce_dice"):
            loss = loss + dice_loss(logits, target, self.ignore_index)
        return loss


def median_frequency_weights(
    class_pixels: torch.Tensor, image_pixels: torch.Tensor
) -> torch.Tensor:
    """Eigen & Fergus' weights: freq(c) = pixels of class c / pixels of the images that contain
    c; weight(c) = median(freq) / freq(c). Classes never seen get weight 0."""
    class_pixels, image_pixels = class_pixels.double(), image_pixels.double()
    seen = class_pixels > 0
    freq = torch.zeros_like(class_pixels)
    freq[seen] = class_pixels[seen] / image_pixels[seen]
    weights = torch.zeros_like(freq)
    weights[seen] = freq[seen].median() / freq[seen]
    return weights.float()
