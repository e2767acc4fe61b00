"""What every torchvision detector on a timm backbone shares: the backbone + FPN adapter, the
constructor, the anchors, the label convention and the validation-loss mode."""

from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import astuple

import numpy as np
import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.ops.limits import DetectionLimits


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
        # the transform only batches: the images keep whatever size they came in (multi-scale)
        height, width = images.shape[-2:]
        self.transform.min_size, self.transform.max_size = (min(height, width),), max(height, width)
        output = super().forward(list(images), targets)
        if isinstance(output, dict):
            return output
        return [{**o, "labels": o["labels"] - shift} for o in output]


class FPNDetector(TorchvisionDetector):
    """A torchvision detector (the second base) on a timm backbone + FPN, with images that
    arrive normalised and resized to `image_size`. The limits (`score_threshold`, `nms_iou`,
    `detections_per_image`: `visionlab.ops.limits.DetectionLimits`) become the torchvision
    class's threshold arguments, named in `threshold_names`; subclasses turn their other
    options into that class's other arguments in `detector_args`."""

    threshold_names = ("score_thresh", "nms_thresh", "detections_per_img")

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        image_size: int = 384,
        fpn_levels: int = 3,
        fpn_channels: int = 128,
        **options,
    ) -> None:
        fpn = TimmFPN(backbone, fpn_levels, fpn_channels)
        limits, options = DetectionLimits.split(options)
        super().__init__(
            fpn,
            **prepared_input(image_size),
            **dict(zip(self.threshold_names, astuple(limits), strict=True)),
            **self.detector_args(num_classes, fpn, **options),
        )
        self.limits = limits

    def detector_args(self, num_classes: int, fpn: TimmFPN, **options) -> dict:
        """The torchvision class's arguments besides the backbone, input and thresholds."""
        raise NotImplementedError


ANCHOR_SIZES = (32, 64, 128, 256)  # a 3-level FPN plus its max-pooled level
ASPECT_RATIOS = (0.5, 1.0, 2.0)


def pyramid_anchors(
    fpn: TimmFPN,
    anchor_sizes: tuple[int, ...] = ANCHOR_SIZES,
    aspect_ratios: tuple[float, ...] = ASPECT_RATIOS,
    octaves: int = 1,
) -> AnchorGenerator:
    """Anchors of one base size per FPN level (the max-pooled one included), each at
    `octaves` scales (×2^(k/octaves)) and every aspect ratio."""
    levels = len(fpn.strides)
    if len(anchor_sizes) != levels:
        raise ValueError(
            f"model.anchor_sizes needs {levels} sizes, one per FPN level plus the pool level"
        )
    scaled = tuple(
        tuple(round(s * 2 ** (k / octaves)) for k in range(octaves)) for s in anchor_sizes
    )
    return AnchorGenerator(scaled, (tuple(aspect_ratios),) * levels)


def auto_anchor_sizes(
    sides: np.ndarray, labels: np.ndarray, levels: int, min_ratio: float = 1.25
) -> list[int]:
    """One anchor size per pyramid level for objects of these sides (sqrt(w x h) at the input
    size) and classes: geometric steps from the smallest class's 5th percentile to the largest
    class's 95th, so that a rare class of unusual size is covered too; at least `min_ratio`
    apart (around their geometric mean when the objects are all alike)."""
    if len(sides) == 0:
        raise ValueError("no training objects to derive anchor sizes from")
    per_class = [np.percentile(sides[labels == c], [5, 95]) for c in np.unique(labels)]
    low, high = min(p[0] for p in per_class), max(p[1] for p in per_class)
    span = max(high / low, min_ratio ** (levels - 1))
    first = math.sqrt(low * high / span)
    step = span ** (1 / (levels - 1))
    return [max(1, round(first * step**k)) for k in range(levels)]


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
