"""Checkpoint reading that never unpickles code, and model reconstruction from a file."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import torch

from visionlab.errors import WeightsError


def read_checkpoint(path: str | Path) -> dict:
    """`torch.load(path, weights_only=True)` on CPU, with errors that name the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"checkpoint '{path}' does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsError(
            f"{path} holds Python objects that need pickle to load; visionlab refuses to "
            f"unpickle files ({str(err).splitlines()[0]})"
        ) from err
    except (RuntimeError, EOFError) as err:
        raise WeightsError(f"{path} is not a readable checkpoint ({err})") from err


def load_model(path: str | Path):
    """Rebuild the trained task (a LightningModule in eval mode) from its checkpoint alone.

    The network is `task.model`; `task.hparams.class_names` and `task.run_config` (the resolved
    training config) come from the file too.
    """
    from visionlab.tasks import TASKS

    checkpoint = read_checkpoint(path)
    meta = checkpoint.get("visionlab")
    if not meta or meta.get("task") not in TASKS:
        raise WeightsError(f"{path} is not a visionlab checkpoint (no 'visionlab' metadata)")
    hparams = copy.deepcopy(checkpoint["hyper_parameters"])
    backbone = hparams["model"].get("backbone")
    if backbone:  # the weights come from the checkpoint, not from a hub or package
        hparams["model"]["backbone"] = {**backbone, "pretrained": False, "weights": None}
    task = TASKS[meta["task"]](**hparams)
    task.load_state_dict(checkpoint["state_dict"])
    task.run_config = meta.get("config", {})
    return task.eval()
