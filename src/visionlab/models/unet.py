"""UNet: an encoder (a timm backbone or the paper's plain convolutions) and a decoder that
concatenates encoder features at the same resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.errors import ConfigError
from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.models.registry import ExportSpec, register_model


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 convolutions, each followed by BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class PlainEncoder(nn.Module):
    """The paper's encoder: double convolutions, each level after a 2×2 max-pool.
    Returns one feature map per level (strides 1, 2, 4, ...)."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 512, 1024)) -> None:
        super().__init__()
        ins = (3, *channels[:-1])
        self.levels = nn.ModuleList(double_conv(i, o) for i, o in zip(ins, channels, strict=True))
        self.out_channels = list(channels)
        self.reductions = [2**i for i in range(len(channels))]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for i, level in enumerate(self.levels):
            x = level(F.max_pool2d(x, 2) if i else x)
            features.append(x)
        return features


UPSAMPLING = ("transposed", "interpolate")


class UpBlock(nn.Module):
    """Upsample ×2, concatenate the skip features, double convolution."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, mode: str):
        super().__init__()
        if mode == "transposed":
            self.upsample = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        elif mode == "interpolate":
            self.upsample = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, out_channels, 3, padding=1),
            )
        else:
            raise ValueError(f"model.upsampling must be one of {UPSAMPLING}, got {mode!r}")
        self.conv = double_conv(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = self.upsample(x)
        return self.conv(x if skip is None else torch.cat([x, skip], dim=1))


@register_model("unet", tasks=("segment",), export=ExportSpec(input_multiple=32))
class UNet(FreezableBackbone):
    """`(N, 3, H, W)` -> class logits `(N, C, H, W)`.

    `backbone`: a timm model config (its `features_only` maps are the encoder), or
    `{"name": "plain"}` for the paper's encoder. The decoder climbs one level per block, with
    `decoder_channels` decreasing as the resolution grows, up to the input resolution, then a
    1×1 convolution gives the class scores. H and W must be multiples of the encoder's total
    stride; `pad=True` pads the input up to one and crops the output back instead.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
        upsampling: str = "transposed",
        pad: bool = False,
    ) -> None:
        super().__init__()
        if backbone.get("name") == "plain":
            widths = backbone.get("channels")
            self.backbone = PlainEncoder(tuple(widths)) if widths else PlainEncoder()
            channels, reductions = self.backbone.out_channels, self.backbone.reductions
        else:
            self.backbone = create_backbone(**backbone, features_only=True)
            channels = self.backbone.feature_info.channels()
            reductions = self.backbone.feature_info.reduction()
        self.multiple, self.pad = reductions[-1], pad
        # One block per step from the deepest level up; levels at stride 1 need no block.
        steps = len(reductions) - 1 + (reductions[0] > 1)
        if len(decoder_channels) < steps:
            raise ValueError(f"model.decoder_channels needs {steps} entries for this encoder")
        skips = [*reversed(channels[:-1]), *([0] if reductions[0] > 1 else [])]
        ins = [channels[-1], *decoder_channels[: steps - 1]]
        self.blocks = nn.ModuleList(
            UpBlock(i, s, o, upsampling)
            for i, s, o in zip(ins, skips, decoder_channels[:steps], strict=True)
        )
        self.classifier = nn.Conv2d(decoder_channels[steps - 1], num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        m = self.multiple
        if height % m or width % m:
            if not self.pad:
                raise ConfigError(
                    f"UNet needs input sides that are multiples of {m}; got {height}x{width} "
                    f"(resize to a multiple of {m}, or set model.pad=true)"
                )
            images = F.pad(images, (0, -width % m, 0, -height % m))
        features = self.backbone(images)
        x = features[-1]
        skips = [*reversed(features[:-1])]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return self.classifier(x)[..., :height, :width]
