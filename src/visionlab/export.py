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

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")
# detectors that decode inside the model, exported for one image per call
ONE_IMAGE = ("faster_rcnn", "mask_rcnn", "sliding_window")
# exported through torch.export: with a variable batch, the TorchScript-based exporter loses
# the spatial size YOLOv1's adaptive pooling needs
TORCH_EXPORT = ("yolov1",)


class DetectionOutputs(nn.Module):
    """A detector with torchvision's output contract, as a function of a one-image batch to a
    tuple of tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.masks = hasattr(model, "roi_heads") and model.roi_heads.has_mask()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)[0]
        outputs = (out["boxes"], out["scores"], out["labels"])
        return (*outputs, out["masks"]) if self.masks else outputs


def exportable(task) -> tuple[nn.Module, list[str], bool]:
    """The module to export, its output names and whether its batch size may vary."""
    arch = task.hparams.model["arch"]
    model = task.model.eval()
    if arch in ONE_IMAGE:
        wrapped = DetectionOutputs(model)
        names = ["boxes", "scores", "labels"] + (["masks"] if wrapped.masks else [])
        return wrapped, names, False
    return model, ["grid" if arch == "yolov1" else "logits"], True


def export_model(task, path: Path, fmt: str, size: int, opset: int = 18) -> Path:
    """Write `task`'s network to `path` as `fmt` for `size` x `size` inputs."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r}; choose one of {', '.join(FORMATS)}")
    module, outputs, dynamic_batch = exportable(task)
    example = torch.rand(2 if dynamic_batch else 1, 3, size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on data-dependent shapes
        if fmt == "torchscript":
            torch.jit.trace(module, (example,), strict=False).save(str(path))
        elif task.hparams.model["arch"] in TORCH_EXPORT:
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
    module, _, dynamic_batch = exportable(task)
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
