"""Segmentation reports: per-class IoU and Dice, the pixel confusion matrix and predicted masks
on validation images (PNG, and W&B mask overlays)."""

from __future__ import annotations

from lightning.pytorch.loggers import WandbLogger

from visionlab.callbacks.report import TaskReport
from visionlab.tasks.segmentation import SegmentationTask
from visionlab.utils.loggers import log_wandb_masks, save_and_log_table
from visionlab.utils.plots import (
    confusion_matrix_figure,
    display_image,
    per_class_figure,
    save_and_log_figure,
    segmentation_figure,
)

PLOTTED_IMAGES = 4


class SegmentationReport(TaskReport):
    """Per stage `per_class_iou_<stage>.csv` (also a W&B table), `plots/per_class_iou_<stage>.png`
    and `confusion_matrix_<stage>.png`; every `task.plot_every_n_epochs`, image | ground truth |
    prediction for the first validation images and W&B mask overlays. The validation loader is
    unshuffled, so they are the same images every time."""

    task_type = SegmentationTask
    keeps_batch = True

    def keep(self, batch, outputs):
        images, masks = batch
        return tuple(t[:PLOTTED_IMAGES].detach().cpu() for t in (images, masks, outputs))

    def report(self, trainer, pl_module, stage: str, computed: dict) -> None:
        confusion, scores = computed["confusion"], computed["scores"]
        names = pl_module.hparams.class_names
        rows = list(zip(names, scores["iou_per_class"].tolist(), strict=True))
        dice, pixels = scores["dice_per_class"].tolist(), confusion.sum(1).tolist()
        plots = self.plots_dir(trainer)
        save_and_log_table(
            plots.parent / f"per_class_iou_{stage}.csv",
            f"{stage}/per_class_iou",
            ["class", "IoU", "dice", "pixels"],
            [
                [name, round(iou, 4), round(d, 4), int(n)]
                for (name, iou), d, n in zip(rows, dice, pixels, strict=True)
            ],
            trainer.loggers,
        )
        epoch = f"epoch {trainer.current_epoch}"
        figures = {
            "per_class_iou": per_class_figure(
                rows, "IoU", f"{stage} IoU per class (mIoU {scores['mIoU']:.3f}), {epoch}"
            ),
            "confusion_matrix": confusion_matrix_figure(
                confusion.numpy(), names, f"{stage} pixels, {epoch}", annotate="rates"
            ),
        }
        for key, fig in figures.items():
            save_and_log_figure(
                fig, plots / f"{key}_{stage}.png", f"{stage}/{key}", trainer.loggers,
                trainer.global_step,
            )  # fmt: skip
        if stage == "val" and self.batch is not None:
            self._predictions(trainer, pl_module, stage, names, *self.batch)

    def _predictions(self, trainer, pl_module, stage, names, images, masks, preds) -> None:
        self.save_predictions(trainer, stage, segmentation_figure(images, masks, preds, names))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                log_wandb_masks(
                    logger,
                    f"{stage}/masks",
                    [display_image(image) for image in images],
                    list(preds),
                    list(masks),
                    names,
                    pl_module.hparams.ignore_index,
                    trainer.global_step,
                )
