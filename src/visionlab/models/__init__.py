"""Plain nn.Modules, built by name from the `model` config."""

from __future__ import annotations

from torch import nn

from visionlab.errors import ConfigError
from visionlab.models.classifier import Classifier
from visionlab.models.faster_rcnn import FasterRCNNDetector, MaskRCNNDetector
from visionlab.models.fcn import FCN
from visionlab.models.sliding_window import SlidingWindowDetector
from visionlab.models.unet import UNet
from visionlab.models.yolov1 import YOLOv1

ARCHITECTURES = {
    "classifier": Classifier,
    "yolov1": YOLOv1,
    "sliding_window": SlidingWindowDetector,
    "faster_rcnn": FasterRCNNDetector,
    "mask_rcnn": MaskRCNNDetector,
    "fcn": FCN,
    "unet": UNet,
}
# keys of the `model` config read by the task or the entry points, not by the network
NON_MODEL_KEYS = ("arch", "name", "tasks", "channels_last", "compile")


def build_model(config: dict, num_classes: int) -> nn.Module:
    """The network named by `config["arch"]`; its other keys (but NON_MODEL_KEYS) are its args."""
    args = {k: v for k, v in config.items() if k not in NON_MODEL_KEYS}
    arch = config.get("arch")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"model.arch={arch!r}; known architectures: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes=num_classes, **args)
