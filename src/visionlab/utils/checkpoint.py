"""Checkpoint files: atomic writes, reads that never unpickle code unless trusted, and model
reconstruction from a file."""

from __future__ import annotations

import copy
import inspect
import logging
import pickle
from dataclasses import fields
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from visionlab.errors import WeightsError
from visionlab.ops.limits import DetectionLimits
from visionlab.utils.files import atomic_write

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path, trusted: bool = False) -> dict:
    """`torch.load(path, weights_only=True)` on CPU, with errors that name the file.

    A file that needs pickle (it stores Python objects, which can run code when loaded) is
    refused unless `trusted` is set.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"checkpoint '{path}' does not exist")
    if trusted:
        log.warning("Unpickling %s (trust_checkpoint=true): only do this for files you trust", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as err:
        raise WeightsError(
            f"{path} holds Python objects that need pickle to load, and unpickling can run code; "
            f"refused ({str(err).splitlines()[0]}). If you trust the file, pass "
            "trust_checkpoint=true"
        ) from err
    except (RuntimeError, EOFError) as err:
        raise WeightsError(f"{path} is not a readable checkpoint ({err})") from err


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint files written atomically (a temporary file renamed over the old
    one, so a crash mid-save leaves the previous checkpoint intact) and read weights-only."""

    def __init__(self, trusted: bool = False) -> None:
        self.trusted = trusted

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if "://" in str(path):  # remote storage: fsspec's own write
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        if "://" in str(path):
            return super().load_checkpoint(path, map_location, weights_only)
        return read_checkpoint(path, trusted=self.trusted)


# Renamed in 0.2.0, when detectors took over their thresholds, NMS and loss from the task.
RENAMED_MODEL_KEYS = {
    "box_score_thresh": "score_threshold",
    "box_nms_thresh": "nms_iou",
    "box_detections_per_img": "detections_per_image",
}
MOVED_TO_MODEL = ("score_threshold", "nms_iou", "loss", "ops")
DETECTOR_TASKS = ("detect", "instance")  # their models hold `DetectionLimits`
LIMIT_NAMES = frozenset(f.name for f in fields(DetectionLimits))


def upgrade_hyperparameters(hparams: dict, task: str) -> dict:
    """The hyperparameters of a checkpoint written before 0.2.0 in today's layout: the
    detection task's `score_threshold`, `nms_iou`, `loss` and `ops` move into the model config
    where the model names them (YOLOv1; `ops` for the sliding window), and Faster/Mask R-CNN's
    `box_score_thresh`/`box_nms_thresh`/`box_detections_per_img` become
    `score_threshold`/`nms_iou`/`detections_per_image`."""
    from visionlab.models import model_spec

    model = hparams["model"]
    for old, new in RENAMED_MODEL_KEYS.items():
        if old in model:
            model[new] = model.pop(old)
    if task not in DETECTOR_TASKS:
        return hparams
    parameters = inspect.signature(model_spec(model.get("arch")).cls.__init__).parameters
    accepted = {*parameters, *LIMIT_NAMES}  # every detector's
    for key in MOVED_TO_MODEL:
        value = hparams.pop(key, None)
        if key in accepted and key not in model and value is not None:
            model[key] = value
    return hparams


def load_model(path: str | Path, trusted: bool = False, limits: dict | None = None):
    """Rebuild the trained task (a LightningModule in eval mode) from its checkpoint alone.

    `trusted` allows a file that needs pickle (see `read_checkpoint`). `limits` (detectors
    only: `score_threshold`, `nms_iou`, `detections_per_image`) replace the checkpoint's. The
    network is `task.model`; `task.hparams.class_names` and `task.run_config` (the resolved
    training config) come from the file too.
    """
    from visionlab.tasks import TASKS

    checkpoint = read_checkpoint(path, trusted)
    meta = checkpoint.get("visionlab")
    if not meta or meta.get("task") not in TASKS:
        raise WeightsError(f"{path} is not a visionlab checkpoint (no 'visionlab' metadata)")
    hparams = upgrade_hyperparameters(copy.deepcopy(checkpoint["hyper_parameters"]), meta["task"])
    if limits:
        hparams["model"] |= checked_limits(limits, meta["task"], path)
    backbone = hparams["model"].get("backbone")
    if backbone:  # the weights come from the checkpoint, not from a hub or package
        hparams["model"]["backbone"] = {**backbone, "pretrained": False, "weights": None}
    hparams["model"]["compile"] = False  # evaluation, prediction and export run eagerly
    task = TASKS[meta["task"]](**hparams)
    task.load_state_dict(checkpoint["state_dict"])
    task.run_config = meta.get("config", {})
    return task.eval()


def checked_limits(limits: dict, task: str, path: str | Path) -> dict:
    """`limits` if they are detection limits and the checkpoint's task has them."""
    unknown = sorted(set(limits) - LIMIT_NAMES)
    if unknown:
        choices = ", ".join(sorted(LIMIT_NAMES))
        raise WeightsError(f"unknown detection limit(s) {unknown}; choose from {choices}")
    if task not in DETECTOR_TASKS:
        raise WeightsError(
            f"{path} is a {task} checkpoint: model.{next(iter(limits))} applies to detectors only"
        )
    return limits
