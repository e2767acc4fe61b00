"""Backbone freezing shared by every model with a pretrained backbone."""

from __future__ import annotations

from torch import nn


class FreezableBackbone(nn.Module):
    """Mixin: `frozen_part` names the pretrained sub-module (default `backbone`).

    `set_backbone_frozen(True)` keeps its normalisation layers in eval mode across later
    `train()` calls; with `freeze_weights` its parameters also stop requiring gradients.
    `backbone_prefix` is the parameter-name prefix that optimizers treat as backbone.
    """

    backbone_prefix = "backbone."
    backbone_frozen = False

    @property
    def frozen_part(self) -> nn.Module:
        return self.get_submodule(self.backbone_prefix.rstrip("."))

    def set_backbone_frozen(self, frozen: bool, freeze_weights: bool = False) -> None:
        self.backbone_frozen = frozen
        if freeze_weights:
            self.frozen_part.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.backbone_frozen:
            self.frozen_part.eval()
        return self
