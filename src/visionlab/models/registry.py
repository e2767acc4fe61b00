"""Models register themselves: `@register_model(arch, tasks, export)` on the class records the
name configs use (`model.arch`), the tasks it serves and what export needs. Nothing else keeps
a list of models."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from visionlab.errors import ConfigError

EXPORTERS = ("torchscript", "dynamo")


@dataclass(frozen=True)
class ExportSpec:
    """How a network is exported.

    `outputs`: the output names. `one_image`: a detector with torchvision's contract, exported
    for one image per call, whose outputs are those keys of its per-image dict. `exporter`:
    `torchscript` (torch.onnx's TorchScript-based exporter) or `dynamo` (torch.export, for
    networks whose spatial sizes must stay known with a variable batch). `input_multiple`:
    the input side must be a multiple of it. `method`: the network's method that is exported
    (YOLOv1 exports its raw `grid`, leaving decoding to the caller).
    """

    outputs: tuple[str, ...] = ("logits",)
    one_image: bool = False
    exporter: str = "torchscript"
    input_multiple: int = 1
    method: str = "forward"


# detectors with torchvision's contract: boxes, scores and labels per image
DETECTOR_EXPORT = ExportSpec(("boxes", "scores", "labels"), one_image=True)


@dataclass(frozen=True)
class ModelSpec:
    arch: str
    cls: type[nn.Module]
    tasks: tuple[str, ...]
    export: ExportSpec


MODELS: dict[str, ModelSpec] = {}


def register_model(arch: str, tasks: tuple[str, ...], export: ExportSpec | None = None):
    """Class decorator: make the class buildable as `model.arch=<arch>` for `tasks`."""
    export = export or ExportSpec()
    if export.exporter not in EXPORTERS:
        raise ValueError(f"{arch}: exporter {export.exporter!r} is not one of {EXPORTERS}")

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        if arch in MODELS and MODELS[arch].cls is not cls:
            raise ValueError(f"model arch {arch!r} is registered twice")
        MODELS[arch] = ModelSpec(arch, cls, tuple(tasks), export)
        return cls

    return decorate


def model_spec(arch: str | None) -> ModelSpec:
    """What `arch` registered; a ConfigError naming the known ones otherwise."""
    if arch not in MODELS:
        raise ConfigError(f"model.arch={arch!r}; known architectures: {', '.join(sorted(MODELS))}")
    return MODELS[arch]
