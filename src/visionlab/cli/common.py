"""Builders and the error boundary shared by the entry points."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from visionlab.data import (
    ClassificationDataModule,
    DetectionDataModule,
    InstanceDataModule,
    SegmentationDataModule,
    VisionDataModule,
)
from visionlab.data.stream.datamodule import stream_datamodule
from visionlab.errors import ConfigError, VisionlabError
from visionlab.tasks import TASKS, VisionTask
from visionlab.utils.checkpoint import SafeCheckpointIO

log = logging.getLogger("visionlab")
DATAMODULES: dict[str, type[VisionDataModule]] = {
    "classify": ClassificationDataModule,
    "detect": DetectionDataModule,
    "instance": InstanceDataModule,
    "segment": SegmentationDataModule,
}


# Lightning notices that are expected in visionlab's run folders and loaders.
QUIET_WARNINGS = (
    r".*exists and is not empty.*",
    r".*LeafSpec.*",
    r".*does not have many workers.*",
    r".*Your `IterableDataset` has `__len__` defined.*",  # litdata shards it per worker
    r".*module\(s\) in eval mode at the start of training.*",  # finetune.norm/strategy=frozen
)


def run_entry(main: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run `main(cfg)`; a VisionlabError ends the program with its message and exit code 1.

    In a multirun, such an error (or running out of memory) fails only this job: the reason
    goes to `failed.json` in its folder, NaN is returned (Optuna records a failed trial) and
    the sweep goes on.
    """
    try:
        return main(cfg)
    except (VisionlabError, torch.OutOfMemoryError) as err:
        log.error("%s", err)
        hydra = HydraConfig.get() if HydraConfig.initialized() else None
        if hydra is None or hydra.mode != RunMode.MULTIRUN:
            sys.exit(1)
        failure = {
            "error": str(err),
            "type": type(err).__name__,
            "overrides": list(hydra.overrides.task),
        }
        run_dir = Path(hydra.runtime.output_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "failed.json").write_text(json.dumps(failure, indent=2))
        return float("nan")


def build_datamodule(data_cfg: DictConfig | dict, task: str) -> VisionDataModule:
    if task not in DATAMODULES:
        raise ConfigError(
            f"task={task}: no data module yet; choose one of {', '.join(DATAMODULES)}"
        )
    if not isinstance(data_cfg, DictConfig):
        data_cfg = OmegaConf.create(data_cfg)
    missing = sorted(key.removeprefix("data.") for key in OmegaConf.missing_keys(data_cfg))
    if missing:
        keys = " ".join(f"data.{key}=..." for key in missing)
        raise ConfigError(f"the data config needs a value for {', '.join(missing)}: add {keys}")
    args = OmegaConf.to_container(data_cfg, resolve=True)
    args.pop("tasks", None)  # what the source serves: read by the config checks
    if args["source"] == "stream":
        return stream_datamodule(DATAMODULES[task])(**args)
    return DATAMODULES[task](**args)


def build_task(cfg: DictConfig, datamodule: VisionDataModule) -> VisionTask:
    task_cfg = OmegaConf.to_container(cfg.task, resolve=True)
    task_class = TASKS[task_cfg.pop("name")]
    return task_class(
        model=OmegaConf.to_container(cfg.model, resolve=True),
        num_classes=datamodule.num_classes,
        class_names=datamodule.class_names,
        finetune=OmegaConf.to_container(cfg.finetune, resolve=True),
        **task_class.resolve_args(task_cfg, datamodule),
    )


def instantiate_dict(group: DictConfig | None) -> list[Any]:
    """Instantiate each `_target_` entry of a dict-keyed group (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def build_trainer(
    cfg: DictConfig,
    run_dir: Path,
    loggers: list[Logger] | None = None,
    callbacks: list[L.Callback] | None = None,
) -> L.Trainer:
    """The configured Trainer; `callbacks` run before the configured ones."""
    for pattern in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    callbacks = [*(callbacks or []), *instantiate_dict(cfg.get("callbacks"))]
    return instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=str(run_dir),
        plugins=[SafeCheckpointIO(trusted=bool(cfg.get("trust_checkpoint")))],
    )
