"""Classification's tools against few or imbalanced images: MixUp/CutMix batches
(`data.mix`, torchvision's) and a class-balanced sampler (`data.sampler=balanced`)."""

from __future__ import annotations

import torch
from torch.utils.data import WeightedRandomSampler, default_collate
from torchvision.transforms import v2

from visionlab.errors import ConfigError

MIXES = ("none", "mixup", "cutmix", "mixup_cutmix")
SAMPLERS = ("random", "balanced")


class MixingCollate:
    """Collate a training batch, then mix its images in pairs: MixUp blends whole images,
    CutMix pastes a box of one into the other (`mixup_cutmix`: either, half the batches
    each). The labels become class probabilities `(B, C)`, mixed in the same proportions."""

    def __init__(self, mix: str, alpha: float, num_classes: int) -> None:
        if mix not in MIXES or mix == "none":
            raise ConfigError(f"data.mix={mix}: choose one of {', '.join(MIXES)}")
        kinds = {"mixup": v2.MixUp, "cutmix": v2.CutMix}
        chosen = [kinds[k] for k in kinds if k in mix]
        self.mix = v2.RandomChoice([k(alpha=alpha, num_classes=num_classes) for k in chosen])

    def __call__(self, samples: list) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mix(*default_collate(samples))


def balanced_sampler(labels: list[int], generator: torch.Generator) -> WeightedRandomSampler:
    """Draw an epoch of `len(labels)` images with replacement, each class equally often."""
    labels_t = torch.tensor(labels)
    counts = torch.bincount(labels_t).double()
    weights = 1.0 / counts[labels_t]
    return WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)
