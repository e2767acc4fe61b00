"""Object detection with any detector of torchvision's contract (each owns its loss, decoding,
thresholds and NMS); COCO mAP with torchmetrics, per-class AP and prediction plots."""

from __future__ import annotations

import logging

import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger

from visionlab.metrics import ShardedMeanAveragePrecision
from visionlab.models.detector_adapter import loss_mode
from visionlab.tasks.base import VisionTask
from visionlab.utils.loggers import log_wandb_boxes, save_and_log_table
from visionlab.utils.plots import (
    detections_figure,
    display_image,
    label_statistics_figure,
    per_class_figure,
    precision_recall_figure,
    save_and_log_figure,
)

logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)  # its summary tables are noise

PLOT_MIN_SCORE = 0.3  # predictions drawn on the validation images

# torchmetrics key -> visionlab metric name
MAP_KEYS = {"map": "mAP", "map_50": "mAP50", "map_75": "mAP75", "mar_100": "recall"}


def map_metric() -> ShardedMeanAveragePrecision:
    """The COCO box mAP the detection task computes, per class and with PR curves."""
    return ShardedMeanAveragePrecision(
        box_format="xyxy",
        iou_type="bbox",
        class_metrics=True,
        extended_summary=True,  # precision at every recall threshold, for the PR curves
        backend="faster_coco_eval",
    )


class DetectionTask(VisionTask):
    """Batches are `(images (B, 3, S, S), [{boxes, labels, ...}])`; predictions are
    `[{boxes, scores, labels}]` in the input image's pixel coordinates."""

    name = "detect"

    def __init__(self, plot_every_n_epochs: int = 5, **task_args) -> None:
        super().__init__(**task_args)
        self.save_hyperparameters()
        self.val_map, self.test_map = map_metric(), map_metric()

    def on_fit_start(self) -> None:
        """Plot the training labels once: class histogram, objects per image, box sizes."""
        datamodule = self.trainer.datamodule
        if not self.trainer.is_global_zero or not hasattr(datamodule, "index"):
            return
        samples = datamodule.index.split("train")
        fig = label_statistics_figure(
            np.concatenate([s.boxes for s in samples]).reshape(-1, 4),
            np.concatenate([s.labels for s in samples]),
            np.array([len(s.labels) for s in samples]),
            self.hparams.class_names,
        )
        save_and_log_figure(
            fig, self.plots_dir / "labels_train.png", "train/labels", self.loggers, 0
        )

    # --- one step for every stage ---------------------------------------------------------------
    def model_step(self, batch):
        """Training: the model's losses. Evaluation: the same losses with normalisation and
        dropout held in eval mode (no statistics change), and the model's detections."""
        images, targets = batch
        images = images.contiguous(memory_format=self.memory_format)
        if self.training:
            return self._total(self.model(images, targets), len(images)), None, targets
        with torch.no_grad(), loss_mode(self.model):
            losses = self.model(images, targets)
        return self._total(losses, len(images)), self.model(images), targets

    def _total(self, losses: dict[str, torch.Tensor], batch_size: int) -> torch.Tensor:
        self._log_terms(losses, batch_size)
        return sum(losses.values())

    def _log_terms(self, losses: dict[str, torch.Tensor], batch_size: int) -> None:
        stage = "train" if self.training else ("test" if self.trainer.testing else "val")
        for key, value in losses.items():
            name = key.removeprefix("loss_")
            self.log(
                f"{stage}/loss_{name}",
                value,
                on_step=False,
                on_epoch=True,
                sync_dist=True,
                batch_size=batch_size,
            )

    def update_metrics(self, stage, preds, targets):
        if stage == "train":
            return
        metric = self.val_map if stage == "val" else self.test_map
        metric.update(
            [
                {k: p[k].float() if k != "labels" else p[k] for k in ("boxes", "scores", "labels")}
                for p in preds
            ],
            [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets],
        )

    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        """Keep the first validation batch of a plotting epoch for `predictions_*.png`."""
        if batch_idx == 0 and self._plot_now():
            images, targets = batch
            self._plot_batch = (images[:8].detach().cpu(), outputs[:8], targets[:8])

    # --- epoch ends ------------------------------------------------------------------------------
    def reset_metrics(self, stage):
        (self.val_map if stage == "val" else self.test_map).reset()

    def on_validation_epoch_end(self) -> None:
        values = self._compute("val", self.val_map)
        if values is not None:
            self.track_best(values[self.monitor.split("/", 1)[-1]])

    def on_test_epoch_end(self) -> None:
        self._compute("test", self.test_map)

    def _compute(self, stage: str, metric: ShardedMeanAveragePrecision) -> dict | None:
        result = metric.compute()
        metric.reset()
        values = {name: result[key].float() for key, name in MAP_KEYS.items()}
        self.log_dict(
            {f"{stage}/{k}": v for k, v in values.items()}, sync_dist=True, prog_bar=stage == "val"
        )
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return values
        self._write_per_class(stage, result)
        self._plot_precision_recall(stage, result)
        if stage == "val" and self._plot_batch is not None:
            self._plot_predictions(stage, *self._plot_batch)
            self._plot_batch = None
        return values

    def _plot_predictions(self, stage: str, images, preds, targets) -> None:
        """Ground truth vs predictions scoring at least PLOT_MIN_SCORE, as PNG and W&B boxes."""
        names = self.hparams.class_names
        preds = [{k: v[p["scores"] >= PLOT_MIN_SCORE] for k, v in p.items()} for p in preds]
        fig = detections_figure(images, preds, targets, names)
        save_and_log_figure(
            fig,
            self.plots_dir / f"predictions_{stage}_epoch{self.current_epoch}.png",
            f"{stage}/predictions",
            self.loggers,
            self.global_step,
        )
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                pictures = [display_image(image) for image in images]
                log_wandb_boxes(
                    logger, f"{stage}/boxes", pictures, preds, targets, names, self.global_step
                )

    def _plot_precision_recall(self, stage: str, result: dict) -> None:
        """PR curve per class at IoU 0.5 over all areas and up to 100 detections per image."""
        precision = result["precision"][0, :, :, 0, -1].numpy()  # (recall thresholds, classes)
        names = self.hparams.class_names
        curves = [
            (names[c], precision[:, k])
            for k, c in enumerate(result["classes"].reshape(-1).tolist())
            if 0 <= c < len(names) and precision[:, k].min() >= 0  # -1: no ground truth
        ]
        if not curves:
            return
        fig = precision_recall_figure(
            np.linspace(0, 1, len(precision)), curves, f"{stage} precision-recall at IoU 0.5"
        )
        save_and_log_figure(
            fig,
            self.plots_dir / f"pr_curve_{stage}.png",
            f"{stage}/pr_curve",
            self.loggers,
            self.global_step,
        )

    def _write_per_class(self, stage: str, result: dict) -> None:
        classes = result["classes"].reshape(-1).tolist()
        aps = result["map_per_class"].reshape(-1).tolist()
        names = self.hparams.class_names
        rows = [(names[c], ap) for c, ap in zip(classes, aps, strict=True) if 0 <= c < len(names)]
        save_and_log_table(
            self.plots_dir.parent / f"per_class_ap_{stage}.csv",
            f"{stage}/per_class_ap",
            ["class", "AP"],
            [(n, round(ap, 4)) for n, ap in rows],
            self.loggers,
        )
        if rows:
            fig = per_class_figure(rows, "AP", f"{stage} AP@[.5:.95] per class")
            save_and_log_figure(
                fig,
                self.plots_dir / f"per_class_ap_{stage}.png",
                f"{stage}/per_class_ap",
                self.loggers,
                self.global_step,
            )

    @torch.no_grad()
    def predict_boxes(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Detections for a batch of preprocessed images, in their pixel coordinates."""
        return self.model(images.contiguous(memory_format=self.memory_format))
