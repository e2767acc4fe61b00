"""Plain nn.Modules, built by name from the `model` config."""

from __future__ import annotations

from torch import nn

from visionlab.errors import ConfigError
from visionlab.models.classifier import Classifier

ARCHITECTURES = {"classifier": Classifier}


def build_model(config: dict, num_classes: int) -> nn.Module:
    """The network named by `config["arch"]`; other keys except `name`/`tasks` are its args."""
    args = {k: v for k, v in config.items() if k not in ("arch", "name", "tasks")}
    arch = config.get("arch")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"model.arch={arch!r}; known architectures: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes=num_classes, **args)
