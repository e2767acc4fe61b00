"""Plain nn.Modules, built by name from the `model` config. Every module of this package is
imported here, so each model class registers itself (`registry.register_model`)."""

from __future__ import annotations

import importlib
import pkgutil

from torch import nn

from visionlab.models.registry import MODELS, ExportSpec, ModelSpec, model_spec, register_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# keys of the `model` config read by the task or the entry points, not by the network
# (`tasks`: in the model configs of checkpoints written before models registered theirs)
NON_MODEL_KEYS = ("arch", "name", "tasks", "channels_last", "compile")


def build_model(config: dict, num_classes: int) -> nn.Module:
    """The network named by `config["arch"]`; its other keys (but NON_MODEL_KEYS) are its args."""
    args = {k: v for k, v in config.items() if k not in NON_MODEL_KEYS}
    return model_spec(config.get("arch")).cls(num_classes=num_classes, **args)


__all__ = ["MODELS", "ExportSpec", "ModelSpec", "build_model", "model_spec", "register_model"]
