"""Image classifier: a timm backbone, dropout and a linear head."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.models.registry import register_model


@register_model("classifier", tasks=("classify",))
class Classifier(FreezableBackbone):
    """`(N, 3, H, W)` float images -> `(N, num_classes)` logits."""

    def __init__(self, num_classes: int, backbone: dict, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.backbone = create_backbone(**backbone, num_classes=0)
        self.head = nn.Sequential(
            nn.Dropout(drop_rate), nn.Linear(self.backbone.num_features, num_classes)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))
