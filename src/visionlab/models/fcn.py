"""Fully convolutional networks (FCN-32s/16s/8s) on a timm backbone."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.models.registry import register_model

STRIDES = {"fcn32s": (32,), "fcn16s": (32, 16), "fcn8s": (32, 16, 8)}


def bilinear_upsampling(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A per-channel transposed convolution that upsamples by `factor` and starts as bilinear
    interpolation (kernel 2·factor, stride factor, padding factor/2)."""
    kernel = 2 * factor
    layer = nn.ConvTranspose2d(
        channels, channels, kernel, stride=factor, padding=factor // 2, bias=False
    )
    centre = (kernel - 1) / 2
    ramp = 1 - (torch.arange(kernel, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, kernel, kernel)
    weight[range(channels), range(channels)] = ramp[:, None] * ramp[None, :]
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


def _crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x[..., : size[0], : size[1]]


@register_model("fcn", tasks=("segment",))
class FCN(FreezableBackbone):
    """`(N, 3, H, W)` -> class logits `(N, C, H, W)` for any H, W.

    The classifier is a 1×1 convolution on the backbone's stride-32 features. FCN-32s upsamples
    its scores ×32 with one transposed convolution; FCN-16s and FCN-8s first upsample ×2 and add
    1×1-convolution scores of the stride-16 (and then stride-8) features, then upsample the rest
    of the way. Every upsampling starts as bilinear interpolation; skip scores start at zero, so
    training begins from the coarser net's output.
    """

    def __init__(self, num_classes: int, backbone: dict, variant: str = "fcn8s") -> None:
        super().__init__()
        if variant not in STRIDES:
            raise ValueError(f"model.variant must be one of {', '.join(STRIDES)}, got {variant!r}")
        self.strides = STRIDES[variant]
        self.backbone = create_backbone(**backbone, features_only=True)
        info = self.backbone.feature_info
        by_stride = {r: i for i, r in enumerate(info.reduction())}
        missing = [s for s in self.strides if s not in by_stride]
        if missing:
            strides = ", ".join(map(str, missing))
            raise ValueError(f"backbone {backbone.get('name')} has no features at stride {strides}")
        self.backbone_indices = [by_stride[s] for s in self.strides]
        channels = info.channels()
        self.scores = nn.ModuleList(
            nn.Conv2d(channels[i], num_classes, 1) for i in self.backbone_indices
        )
        for score in self.scores[1:]:
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)
        self.fuse_upsampling = nn.ModuleList(
            bilinear_upsampling(num_classes, 2) for _ in self.strides[1:]
        )
        self.final_upsampling = bilinear_upsampling(num_classes, self.strides[-1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images)
        picked = [features[i] for i in self.backbone_indices]
        logits = self.scores[0](picked[0])
        for score, upsample, skip in zip(
            self.scores[1:], self.fuse_upsampling, picked[1:], strict=True
        ):
            skip_logits = score(skip)
            logits = _crop(upsample(logits), skip_logits.shape[-2:]) + skip_logits
        return _crop(self.final_upsampling(logits), images.shape[-2:])
