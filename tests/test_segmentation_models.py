"""UNet and FCN: output size follows input size, bilinear-initialised upsampling, size errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionlab.errors import ConfigError
from visionlab.models.fcn import FCN, bilinear_upsampling
from visionlab.models.unet import UNet

SIZES = [(64, 64), (100, 75), (33, 161)]


@pytest.mark.parametrize("backbone", ["tf_efficientnet_lite0", "resnet18"])
@pytest.mark.parametrize("variant", ["fcn32s", "fcn16s", "fcn8s"])
def test_fcn_output_matches_any_input_size(backbone, variant):
    model = FCN(4, {"name": backbone, "pretrained": False}, variant=variant).eval()
    with torch.no_grad():
        for height, width in SIZES:
            assert model(torch.randn(1, 3, height, width)).shape == (1, 4, height, width)


@pytest.mark.parametrize("backbone", ["tf_efficientnet_lite0", "resnet18"])
@pytest.mark.parametrize("upsampling", ["transposed", "interpolate"])
def test_unet_output_matches_input_size(backbone, upsampling):
    model = UNet(4, {"name": backbone, "pretrained": False}, upsampling=upsampling).eval()
    padded = UNet(4, {"name": backbone, "pretrained": False}, pad=True).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 96)).shape == (2, 4, 64, 96)
        for height, width in SIZES:
            assert padded(torch.randn(1, 3, height, width)).shape == (1, 4, height, width)


def test_unet_plain_encoder_and_size_error():
    model = UNet(3, {"name": "plain", "channels": [8, 16, 32, 64, 128]}).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 64)).shape == (1, 3, 48, 64)
        with pytest.raises(ConfigError, match="multiples of 16; got 50x64"):
            model(torch.randn(1, 3, 50, 64))


@pytest.mark.parametrize("factor", [2, 8, 32])
def test_bilinear_initialised_transposed_conv_is_bilinear_interpolation(factor):
    x = torch.randn(2, 3, 10, 12)
    with torch.no_grad():
        ours = bilinear_upsampling(3, factor)(x)
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert ours.shape == reference.shape
    # Equal away from the border, where zero padding replaces bilinear's edge clamping.
    inner = (..., slice(factor, -factor), slice(factor, -factor))
    torch.testing.assert_close(ours[inner], reference[inner], atol=1e-5, rtol=0)


def test_fcn_skips_start_at_zero_and_gradients_reach_the_backbone():
    model = FCN(3, {"name": "resnet18", "pretrained": False}, variant="fcn8s")
    assert all(s.weight.abs().sum() == 0 for s in model.scores[1:])
    model(torch.randn(2, 3, 64, 64)).mean().backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
