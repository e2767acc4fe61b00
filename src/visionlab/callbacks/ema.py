"""Exponential moving average of the weights, on Lightning's `WeightAveraging`."""

from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn


class EMA(WeightAveraging):
    """Keep an exponential moving average of the weights (buffers included) and validate,
    checkpoint and finish training with it.

    The decay warms up with the number of updates `t`: `decay * (1 - exp(-t / warmup_steps))`,
    so the early average follows the fast-moving weights. Under DDP every rank averages its own
    copy: the parameters agree, and the buffers (BatchNorm statistics of each rank's batches)
    are taken from rank 0 before they are used, as DDP does for the model's own.

    Every checkpoint holds the average as its `state_dict` (what evaluate, predict and export
    load) and the raw weights as `current_model_state`; resuming restores both and the update
    count.
    """

    def __init__(self, decay: float = 0.999, warmup_steps: int = 200) -> None:
        if not 0.0 <= decay < 1.0 or warmup_steps < 1:
            raise ValueError(
                f"EMA: decay={decay} must be in [0, 1) and warmup_steps={warmup_steps} >= 1"
            )
        super().__init__(use_buffers=True, multi_avg_fn=self._average)
        self.decay = decay
        self.warmup_steps = warmup_steps

    def current_decay(self, updates: int) -> float:
        return self.decay * (1.0 - math.exp(-updates / self.warmup_steps))

    def _average(self, averaged: list, current: list, updates: torch.Tensor) -> None:
        if averaged[0].is_floating_point():
            get_ema_multi_avg_fn(self.current_decay(int(updates)))(averaged, current, updates)
        else:  # integer buffers (BatchNorm's batch count) follow the model
            for average, value in zip(averaged, current, strict=True):
                average.copy_(value)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Validating or testing a checkpoint uses its state_dict, which already is the
        # average: no second average to swap in, and no raw weights to restore over it.
        if stage != "fit":
            self._average_model = None
        super().setup(trainer, pl_module, stage)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        if self._average_model is not None:  # resuming a fit: the average and the raw weights
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

    def _sync_buffers(self, trainer: L.Trainer) -> None:
        if self._average_model is not None and trainer.world_size > 1:
            for buffer in self._average_model.module.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sync_buffers(trainer)
        super().on_validation_epoch_start(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sync_buffers(trainer)
        super().on_train_end(trainer, pl_module)
