"""Image classifier: a timm backbone, dropout and a linear head."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.models.backbones import create_backbone


class Classifier(nn.Module):
    """`(N, 3, H, W)` float images -> `(N, num_classes)` logits.

    `set_backbone_frozen(True)` makes the backbone a fixed feature extractor: its parameters
    stop receiving gradients only if `requires_grad` is also turned off (see `freeze_weights`),
    and its normalisation layers stay in eval mode across later `train()` calls.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        drop_rate: float = 0.2,
    ) -> None:
        super().__init__()
        self.backbone = create_backbone(**backbone, num_classes=0)
        self.head = nn.Sequential(
            nn.Dropout(drop_rate), nn.Linear(self.backbone.num_features, num_classes)
        )
        self.backbone_frozen = False

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    def set_backbone_frozen(self, frozen: bool, freeze_weights: bool = False) -> None:
        """Keep the backbone in eval mode (and, with `freeze_weights`, without gradients)."""
        self.backbone_frozen = frozen
        if freeze_weights:
            self.backbone.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.backbone_frozen:
            self.backbone.eval()
        return self
