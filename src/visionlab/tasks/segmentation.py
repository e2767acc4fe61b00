"""Semantic segmentation: CE / Dice / CE+Dice with an ignore index, and mIoU, Dice, pixel
accuracy and per-class IoU from one confusion matrix."""

from __future__ import annotations

import torch
from lightning.pytorch.loggers import WandbLogger
from torchmetrics.classification import MulticlassConfusionMatrix

from visionlab.errors import ConfigError
from visionlab.losses import SegmentationLoss, median_frequency_weights
from visionlab.metrics import segmentation_scores
from visionlab.tasks.base import VisionTask
from visionlab.utils.loggers import log_wandb_masks, save_and_log_table
from visionlab.utils.plots import (
    confusion_matrix_figure,
    display_image,
    per_class_figure,
    save_and_log_figure,
    segmentation_figure,
)

PLOTTED_IMAGES = 4
SUMMARY_KEYS = ("mIoU", "dice", "pixel_acc")


class SegmentationTask(VisionTask):
    """Batches are `(images (B, 3, H, W), masks (B, H, W))`; the model returns `(B, C, H, W)`
    logits. Pixels equal to `ignore_index` take no part in the loss or the metrics."""

    name = "segment"

    def __init__(
        self,
        loss: dict | None = None,
        ignore_index: int = 255,
        plot_every_n_epochs: int = 5,
        **task_args,
    ) -> None:
        """`loss`: `{kind: ce | dice | ce_dice, class_weights: null | [w per class]}`."""
        super().__init__(**task_args)
        self.save_hyperparameters()
        loss = {"kind": "ce", "class_weights": None, **(loss or {})}
        if isinstance(loss["class_weights"], str):
            raise ConfigError(
                f"task.loss.class_weights={loss['class_weights']!r} must be resolved from the "
                "data first (build the task with visionlab.cli.common.build_task)"
            )
        self.criterion = SegmentationLoss(loss["kind"], ignore_index, loss["class_weights"])
        num_classes = self.hparams.num_classes
        self.val_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)
        self.test_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)

    @classmethod
    def resolve_args(cls, task_args: dict, datamodule) -> dict:
        """`loss.class_weights: median_frequency` becomes weights from the training masks."""
        loss = dict(task_args.get("loss") or {})
        weights = loss.get("class_weights")
        if weights == "median_frequency":
            loss["class_weights"] = median_frequency_weights(
                *datamodule.class_pixel_counts()
            ).tolist()
        elif isinstance(weights, str):
            raise ConfigError(
                f"task.loss.class_weights={weights!r}: use null, median_frequency or a list"
            )
        return {**task_args, "loss": loss}

    def model_step(self, batch):
        """The loss, and the predicted classes where they are scored (not in training: the
        argmax over C x H x W costs as much as the loss)."""
        images, masks = batch
        logits = self(images)
        preds = None if self.training else logits.argmax(dim=1)
        return self.criterion(logits, masks), preds, masks

    def update_metrics(self, stage, preds, targets):
        if stage != "train":
            self._confusion(stage).update(preds, targets)

    def _confusion(self, stage: str) -> MulticlassConfusionMatrix:
        return self.val_confusion if stage == "val" else self.test_confusion

    def reset_metrics(self, stage):
        self._confusion(stage).reset()

    # --- plots of a fixed set of val images --------------------------------------------------
    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        """Keep the first validation images of a plotting epoch (the val loader is unshuffled,
        so they are the same images every time)."""
        if batch_idx == 0 and self._plot_now():
            images, masks = batch
            preds = self(images[:PLOTTED_IMAGES]).argmax(dim=1)
            self._plot_batch = tuple(
                t[:PLOTTED_IMAGES].detach().cpu() for t in (images, masks, preds)
            )

    # --- epoch ends ------------------------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        scores = self._compute("val")
        self.track_best(scores[self.monitor.split("/", 1)[-1]])

    def on_test_epoch_end(self) -> None:
        self._compute("test")

    def _compute(self, stage: str) -> dict[str, torch.Tensor]:
        metric = self._confusion(stage)
        confusion = metric.compute()
        metric.reset()
        scores = segmentation_scores(confusion)
        names = self.hparams.class_names
        summary = {f"{stage}/{k}": scores[k].float() for k in SUMMARY_KEYS}
        per_class = zip(names, scores["iou_per_class"].float(), strict=True)
        self.log_dict(summary, sync_dist=True, prog_bar=stage == "val")
        self.log_dict({f"{stage}/IoU/{n}": v for n, v in per_class}, sync_dist=True)
        if not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self._write_outputs(stage, confusion.cpu(), scores)
            if self._plot_batch is not None:
                self._plot_predictions(stage, *self._plot_batch)
                self._plot_batch = None
        return {k: scores[k] for k in SUMMARY_KEYS}

    def _write_outputs(self, stage: str, confusion: torch.Tensor, scores: dict) -> None:
        """`per_class_iou_<stage>.csv`, per-class IoU bars and the normalised confusion matrix."""
        names = self.hparams.class_names
        rows = list(zip(names, scores["iou_per_class"].tolist(), strict=True))
        dice = scores["dice_per_class"].tolist()
        pixels = confusion.sum(1).tolist()
        save_and_log_table(
            self.plots_dir.parent / f"per_class_iou_{stage}.csv",
            f"{stage}/per_class_iou",
            ["class", "IoU", "dice", "pixels"],
            [
                [name, round(iou, 4), round(d, 4), int(n)]
                for (name, iou), d, n in zip(rows, dice, pixels, strict=True)
            ],
            self.loggers,
        )
        epoch = f"epoch {self.current_epoch}"
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
                fig,
                self.plots_dir / f"{key}_{stage}.png",
                f"{stage}/{key}",
                self.loggers,
                self.global_step,
            )

    def _plot_predictions(self, stage: str, images, masks, preds) -> None:
        names = self.hparams.class_names
        save_and_log_figure(
            segmentation_figure(images, masks, preds, names),
            self.plots_dir / f"predictions_{stage}_epoch{self.current_epoch}.png",
            f"{stage}/predictions",
            self.loggers,
            self.global_step,
        )
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                pictures = [display_image(image) for image in images]
                log_wandb_masks(
                    logger,
                    f"{stage}/masks",
                    pictures,
                    list(preds),
                    list(masks),
                    names,
                    self.hparams.ignore_index,
                    self.global_step,
                )

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities `(B, C, H, W)` for a batch of preprocessed images."""
        return self(images).softmax(dim=1)
