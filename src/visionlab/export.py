"""Exporting a trained network to ONNX or TorchScript, and checking the file against eager.

What each exported model takes and returns (`images` are preprocessed as in training: RGB,
resized and padded to `size` x `size`, normalised with the checkpoint's mean and std):

- classifier: `images (B, 3, S, S)` -> `logits (B, C)`
- fcn, unet: `images (B, 3, S, S)` -> `logits (B, C, S, S)`
- yolov1: `images (B, 3, S, S)` -> `grid (B, G, G, 5·boxes + C)`: per cell, each box's
  `(cx, cy, w, h, confidence)` (centre in cell units, size relative to the image), then the C
  class probabilities; `visionlab.ops.boxes.decode_yolo` turns it into boxes (score threshold
  and NMS are left to the caller).
- faster_rcnn, mask_rcnn, sliding_window: `images (1, 3, S, S)`, one image per call ->
  `boxes (N, 4)` pixel xyxy, `scores (N,)`, `labels (N,)` in 0..C-1 (+ `masks (N, 1, S, S)`
  probabilities): the model's own post-processing (score threshold, per-class NMS, top-k) is
  inside.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from visionlab.errors import ConfigError
from visionlab.models import ExportSpec, model_spec

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")


class DetectionOutputs(nn.Module):
    """A detector with torchvision's output contract, as a function of a one-image batch to a
    tuple of tensors: the `outputs` keys of its detections."""

    def __init__(self, model: nn.Module, outputs: tuple[str, ...]) -> None:
        super().__init__()
        self.model, self.outputs = model, outputs

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        detections = self.model(images)[0]
        return tuple(detections[key] for key in self.outputs)


class Method(nn.Module):
    """One method of a network as the forward of a module."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(images)


def exportable(task) -> tuple[nn.Module, ExportSpec]:
    """The module to export and how its class asked to be exported."""
    spec = model_spec(task.hparams.model["arch"]).export
    model = task.model.eval()
    if spec.one_image:
        return DetectionOutputs(model, spec.outputs), spec
    return (model if spec.method == "forward" else Method(model, spec.method)), spec


def export_model(task, path: Path, fmt: str, size: int, opset: int = 18) -> Path:
    """Write `task`'s network to `path` as `fmt` for `size` x `size` inputs."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r}; choose one of {', '.join(FORMATS)}")
    module, spec = exportable(task)
    if size % spec.input_multiple:
        raise ConfigError(
            f"image_size={size}: {task.hparams.model['arch']} needs a multiple of "
            f"{spec.input_multiple}"
        )
    outputs, dynamic_batch = list(spec.outputs), not spec.one_image
    example = torch.rand(2 if dynamic_batch else 1, 3, size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on data-dependent shapes
        if fmt == "torchscript":
            torch.jit.trace(module, (example,), strict=False).save(str(path))
        elif spec.exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                module, (example,), str(path), dynamo=True, opset_version=opset,
                input_names=["images"], output_names=outputs,
                dynamic_shapes=({0: batch},), external_data=False,
            )  # fmt: skip
        else:
            axes = {name: {0: "batch"} for name in ["images", *outputs]} if dynamic_batch else None
            torch.onnx.export(
                module, (example,), str(path), dynamo=False, opset_version=min(opset, 17),
                input_names=["images"], output_names=outputs, dynamic_axes=axes,
            )  # fmt: skip
    return path


def run_exported(path: Path, fmt: str, images: torch.Tensor) -> list[np.ndarray]:
    if fmt == "torchscript":
        outputs = torch.jit.load(str(path))(images)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        return [o.detach().numpy() for o in outputs]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images.numpy()})


def max_difference(task, path: Path, fmt: str, size: int, seed: int = 0) -> float:
    """The largest absolute difference between the exported file and eager PyTorch on a
    random batch (of 3 images where the batch may vary, which the export did not see)."""
    module, spec = exportable(task)
    dynamic_batch = not spec.one_image
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(3 if dynamic_batch else 1, 3, size, size, generator=generator)
    with torch.no_grad():
        expected = module(images)
    expected = expected if isinstance(expected, tuple) else (expected,)
    exported = run_exported(path, fmt, images)
    differences = []
    for want, got in zip(expected, exported, strict=True):
        if tuple(want.shape) != got.shape:
            raise ConfigError(f"{path}: output shape {got.shape}, eager gives {tuple(want.shape)}")
        differences.append(
            float(np.abs(want.float().numpy() - got.astype(np.float32)).max(initial=0))
        )
    return max(differences)
