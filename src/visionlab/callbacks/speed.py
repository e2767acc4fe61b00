"""Training throughput, measured the way a plain loop would measure it."""

from __future__ import annotations

import time

import lightning as L
import torch


class TrainSpeed(L.Callback):
    """Logs `train/img_per_s`: images per second from the epoch's first batch request to its
    last optimizer step (data loading included, validation excluded), and `val/img_per_s`."""

    def __init__(self) -> None:
        self.history: list[float] = []
        self._start = self._end = 0.0
        self._images = 0
        self._eval_start, self._eval_images = 0.0, 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = self._end = time.perf_counter()
        self._images = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._images += len(batch[0])
        if batch_idx + 1 == trainer.num_training_batches and torch.cuda.is_available():
            torch.cuda.synchronize()  # count queued GPU work in the epoch's time
        self._end = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._images and self._end > self._start:
            speed = self._images / (self._end - self._start)
            self.history.append(speed)
            pl_module.log("train/img_per_s", speed, sync_dist=True)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._eval_start, self._eval_images = time.perf_counter(), 0

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *_) -> None:
        self._eval_images += len(batch[0])

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Logs `val/img_per_s`: the validation loop's images per second (metrics included)."""
        if trainer.sanity_checking or not self._eval_images:
            return
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self._eval_start
        pl_module.log("val/img_per_s", self._eval_images / seconds, sync_dist=True)
