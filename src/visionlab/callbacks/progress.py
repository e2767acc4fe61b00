"""Progress output: a rich bar in a terminal, plain lines in logs and CI."""

from __future__ import annotations

import sys
import time

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar


def _format(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(metrics.items())
    )


class LineProgressBar(ProgressBar):
    """Prints a line every `every_n_batches` training batches and one per epoch."""

    def __init__(self, every_n_batches: int = 50) -> None:
        super().__init__()
        self.every_n_batches = every_n_batches
        self._enabled = True
        self._epoch_start = 0.0
        self._validated = False

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _print(self, text: str) -> None:
        if self._enabled:
            print(text, flush=True)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()
        self._validated = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validated = not trainer.sanity_checking

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        total = self.total_train_batches
        n = batch_idx + 1
        if n % self.every_n_batches == 0 or n == total:
            loss = self.get_metrics(trainer, pl_module).get("train/loss_step", "")
            loss = f"{loss:.4f}" if isinstance(loss, float) else loss
            self._print(f"epoch {trainer.current_epoch} [{n}/{total}] train/loss {loss}")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = {
            k: v
            for k, v in self.get_metrics(trainer, pl_module).items()
            if not k.endswith("_step") and (self._validated or not k.startswith("val/"))
        }
        seconds = time.perf_counter() - self._epoch_start
        epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        self._print(f"{epoch} ({seconds:.1f}s)  {_format(metrics)}")


def auto_progress_bar(every_n_batches: int = 50) -> ProgressBar:
    """A RichProgressBar when stdout is a terminal, else a LineProgressBar."""
    if sys.stdout.isatty():
        return RichProgressBar()
    return LineProgressBar(every_n_batches)
