"""The base of the reporting callbacks: what a task's metrics computed, drawn and written on
rank 0 once the task's epoch end has run (`on_validation_end`, `on_test_end`: Lightning calls
callbacks' `on_validation_epoch_end` before the module's, which would read the last epoch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from visionlab.tasks.base import VisionTask
from visionlab.utils.plots import save_and_log_figure


class TaskReport(L.Callback):
    """Subclasses name the task class they report on and implement `report`; with
    `keeps_batch`, the first validation batch of a plotting epoch (every
    `task.plot_every_n_epochs`, and every evaluation outside `fit`) is kept for them."""

    task_type: type[VisionTask] = VisionTask
    keeps_batch = False

    def __init__(self) -> None:
        self.batch: Any = None

    def reporting(self, trainer: L.Trainer, pl_module: L.LightningModule) -> bool:
        return (
            isinstance(pl_module, self.task_type)
            and trainer.is_global_zero
            and not trainer.sanity_checking
        )

    @staticmethod
    def plot_epoch(trainer: L.Trainer, pl_module: L.LightningModule) -> bool:
        every = pl_module.hparams.get("plot_every_n_epochs")
        return bool(every) and (
            trainer.state.fn != "fit" or (trainer.current_epoch + 1) % every == 0
        )

    @staticmethod
    def plots_dir(trainer: L.Trainer) -> Path:
        return Path(trainer.default_root_dir) / "plots"

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if (
            self.keeps_batch
            and batch_idx == 0
            and self.reporting(trainer, pl_module)
            and self.plot_epoch(trainer, pl_module)
        ):
            self.batch = self.keep(batch, outputs)

    def keep(self, batch: Any, outputs: Any) -> Any:
        """What of the first validation batch (and its predictions) the report draws."""
        return batch, outputs

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._report(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._report(trainer, pl_module, "test")

    def _report(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        computed = getattr(pl_module, "computed", {}).get(stage)
        if computed is not None and self.reporting(trainer, pl_module):
            self.report(trainer, pl_module, stage, computed)
        if stage == "val":
            self.batch = None

    def report(self, trainer: L.Trainer, pl_module, stage: str, computed: dict) -> None:
        raise NotImplementedError

    def save_predictions(self, trainer: L.Trainer, stage: str, fig) -> None:
        """`plots/predictions_<stage>_epoch<n>.png`, also sent to the image loggers."""
        save_and_log_figure(
            fig,
            self.plots_dir(trainer) / f"predictions_{stage}_epoch{trainer.current_epoch}.png",
            f"{stage}/predictions",
            trainer.loggers,
            trainer.global_step,
        )
