"""The config's choice fields, checked in one place before anything is built: a wrong value
fails with `<key>=<value>: choose one of ...`. Each table entry names the options where the
code that uses them defines them. `data.options` stays open (sources take free-form options).

`CheckChoices` runs the check as Hydra's run starts, before the run folder exists; `train`,
`check` and the multirun jobs run it again through `check_config`."""

from __future__ import annotations

import sys

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from visionlab.errors import ConfigError


def choice_fields() -> dict[str, tuple[str, ...]]:
    """Every choice field of the config and its options."""
    from visionlab.data.balance import MIXES, SAMPLERS
    from visionlab.data.datamodule import ON_ERROR
    from visionlab.data.transforms import PRESETS
    from visionlab.losses.segmentation import KINDS
    from visionlab.models.faster_rcnn import ROI_POOLS
    from visionlab.models.fcn import STRIDES
    from visionlab.models.unet import UPSAMPLING
    from visionlab.models.yolov1 import HEADS
    from visionlab.ops import IOU_OPS, NMS_OPS
    from visionlab.tasks.base import FINETUNE_STRATEGIES, MODES, NONFINITE_ACTIONS, NORM_MODES
    from visionlab.tasks.optim import LR_SCALING, OPTIMIZERS, SCHEDULERS

    return {
        "data.on_error": ON_ERROR,
        "data.augment": PRESETS,
        "data.mix": MIXES,
        "data.sampler": SAMPLERS,
        "finetune.strategy": FINETUNE_STRATEGIES,
        "finetune.norm": NORM_MODES,
        "task.mode": MODES,
        "task.nonfinite_loss": NONFINITE_ACTIONS,
        "task.optimizer.name": OPTIMIZERS,
        "task.optimizer.scale_lr": LR_SCALING,
        "task.scheduler.name": SCHEDULERS,
        "task.loss.kind": KINDS,
        "model.box_roi_pool": tuple(ROI_POOLS),
        "model.upsampling": UPSAMPLING,
        "model.head": HEADS,
        "model.variant": tuple(STRIDES),
        "ops.nms": NMS_OPS,
        "ops.iou": tuple(IOU_OPS),
    }


def check_choices(cfg: DictConfig) -> None:
    """Raise a ConfigError for the first choice field whose value is not one of its options."""
    for key, options in choice_fields().items():
        value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if value is not None and value not in options:
            raise ConfigError(f"{key}={value}: choose one of {', '.join(options)}")


class CheckChoices(Callback):
    """Hydra callback: a wrong choice ends a single run before its folder is created."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check_choices(config)
        except ConfigError as err:
            sys.exit(f"ERROR - {err}")
