"""What every torchvision detector on a timm backbone shares: the backbone + FPN adapter, the
label convention and the validation-loss mode."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager

import torch
from torch import nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone


class TimmFPN(nn.Module):
    """A timm model's last `levels` feature maps (`features_only`), merged by an FPN, plus a
    max-pooled extra level. `out_channels` is what torchvision's detectors read."""

    def __init__(self, backbone: dict, levels: int = 3, out_channels: int = 128) -> None:
        super().__init__()
        indices = tuple(range(-levels, 0))
        self.body = create_backbone(**backbone, features_only=True, out_indices=indices)
        self.fpn = FeaturePyramidNetwork(
            self.body.feature_info.channels(), out_channels, extra_blocks=LastLevelMaxPool()
        )
        self.out_channels = out_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.body(images)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(features)))

    @property
    def strides(self) -> list[int]:
        """The stride of each output level, the max-pooled one included."""
        strides = list(self.body.feature_info.reduction())
        return [*strides, strides[-1] * 2]


def prepared_input(image_size: int) -> dict:
    """The torchvision detector arguments for images the data pipeline has already normalised
    and resized to `image_size`: its own transform then only batches them."""
    return {
        "min_size": image_size,
        "max_size": image_size,
        "image_mean": [0.0, 0.0, 0.0],
        "image_std": [1.0, 1.0, 1.0],
    }


class TorchvisionDetector(FreezableBackbone):
    """Mixin before a torchvision detection class (the second base): visionlab's detector
    contract with labels 0..C-1 in and out, shifted by `label_offset` for detectors that keep
    class 0 for the background, and the targets reduced to `target_keys`. The pretrained part
    is the timm body (`backbone.body`), not the new FPN.

    Training mode: `model(images, targets)` -> dict of losses. Eval mode: `model(images)` ->
    `[{boxes, scores, labels[, masks]}]` per image, in input pixel coordinates.
    """

    backbone_prefix = "backbone.body."
    target_keys: tuple[str, ...] = ("boxes",)
    label_offset = 0

    def forward(self, images, targets=None):
        shift = self.label_offset
        if targets is not None:
            targets = [
                {**{k: t[k] for k in self.target_keys}, "labels": t["labels"] + shift}
                for t in targets
            ]
        output = super().forward(list(images), targets)
        if isinstance(output, dict):
            return output
        return [{**o, "labels": o["labels"] - shift} for o in output]


@contextmanager
def loss_mode(model: nn.Module):
    """Train mode for the loss code of torchvision detectors, with normalisation and dropout
    layers kept in eval mode so that computing a validation loss changes no statistics."""
    was_training = model.training
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm | nn.Dropout):
            module.eval()
    try:
        yield
    finally:
        model.train(was_training)
