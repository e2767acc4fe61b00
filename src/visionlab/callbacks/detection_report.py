"""Detection reports: label statistics, per-class AP, precision-recall curves, the confusion
matrix with background, and predicted boxes on validation images (PNG, and W&B box overlays)."""

from __future__ import annotations

import numpy as np
from lightning.pytorch.loggers import WandbLogger

from visionlab.callbacks.report import TaskReport
from visionlab.tasks.detection import DetectionTask
from visionlab.utils.loggers import log_wandb_boxes, save_and_log_table
from visionlab.utils.plots import (
    confusion_matrix_figure,
    detections_figure,
    display_image,
    label_statistics_figure,
    per_class_figure,
    precision_recall_figure,
    save_and_log_figure,
)

PLOT_MIN_SCORE = 0.3  # predictions drawn on the validation images
PLOTTED_IMAGES = 8


class DetectionReport(TaskReport):
    """`plots/labels_train.png` once; per stage `per_class_ap_<stage>.csv` and `.png`,
    `pr_curve_<stage>.png`, `confusion_<stage>.csv` and `plots/confusion_matrix_<stage>.png`
    (last row and column: background); every `task.plot_every_n_epochs`
    `predictions_val_epoch<n>.png` (ground truth green, predictions scoring at least
    PLOT_MIN_SCORE red) and W&B boxes."""

    task_type = DetectionTask
    keeps_batch = True

    def on_fit_start(self, trainer, pl_module) -> None:
        """Plot the training labels: instances per class, objects per image, box sizes."""
        datamodule = trainer.datamodule
        if not self.reporting(trainer, pl_module) or not hasattr(datamodule, "index"):
            return
        samples = datamodule.index.split("train")
        fig = label_statistics_figure(
            np.concatenate([s.boxes for s in samples]).reshape(-1, 4),
            np.concatenate([s.labels for s in samples]),
            np.array([len(s.labels) for s in samples]),
            pl_module.hparams.class_names,
        )
        path = self.plots_dir(trainer) / "labels_train.png"
        save_and_log_figure(fig, path, "train/labels", trainer.loggers, 0)

    def keep(self, batch, outputs):
        images, targets = batch
        n = PLOTTED_IMAGES
        return images[:n].detach().cpu(), outputs[:n], targets[:n]

    def report(self, trainer, pl_module, stage: str, computed: dict) -> None:
        result, names = computed["map"], pl_module.hparams.class_names
        self._per_class(trainer, stage, result, names)
        self._precision_recall(trainer, stage, result, names)
        self._confusion(trainer, pl_module, stage, computed["confusion"], [*names, "background"])
        if stage == "val" and self.batch is not None:
            self._predictions(trainer, stage, names, *self.batch)

    def _per_class(self, trainer, stage: str, result: dict, names: list[str]) -> None:
        classes = result["classes"].reshape(-1).tolist()
        aps = result["map_per_class"].reshape(-1).tolist()
        rows = [(names[c], ap) for c, ap in zip(classes, aps, strict=True) if 0 <= c < len(names)]
        plots = self.plots_dir(trainer)
        save_and_log_table(
            plots.parent / f"per_class_ap_{stage}.csv",
            f"{stage}/per_class_ap",
            ["class", "AP"],
            [(n, round(ap, 4)) for n, ap in rows],
            trainer.loggers,
        )
        if rows:
            fig = per_class_figure(rows, "AP", f"{stage} AP@[.5:.95] per class")
            save_and_log_figure(
                fig,
                plots / f"per_class_ap_{stage}.png",
                f"{stage}/per_class_ap",
                trainer.loggers,
                trainer.global_step,
            )

    def _confusion(self, trainer, pl_module, stage, matrix: np.ndarray, names: list[str]) -> None:
        plots, metric = self.plots_dir(trainer), pl_module.confusion[stage]
        rows = [[name, *counts] for name, counts in zip(names, matrix.tolist(), strict=True)]
        save_and_log_table(
            plots.parent / f"confusion_{stage}.csv",
            f"{stage}/confusion",
            ["true \\ predicted", *names],
            rows,
            trainer.loggers,
        )
        title = (
            f"{stage} detections (IoU {metric.iou_threshold}, score {metric.score_threshold}), "
            f"epoch {trainer.current_epoch}"
        )
        save_and_log_figure(
            confusion_matrix_figure(matrix, names, title),
            plots / f"confusion_matrix_{stage}.png",
            f"{stage}/confusion_matrix",
            trainer.loggers,
            trainer.global_step,
        )

    def _precision_recall(self, trainer, stage: str, result: dict, names: list[str]) -> None:
        """PR curve per class at IoU 0.5 over all areas and up to 100 detections per image."""
        precision = result["precision"][0, :, :, 0, -1].numpy()  # (recall thresholds, classes)
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
            self.plots_dir(trainer) / f"pr_curve_{stage}.png",
            f"{stage}/pr_curve",
            trainer.loggers,
            trainer.global_step,
        )

    def _predictions(self, trainer, stage: str, names: list[str], images, preds, targets) -> None:
        preds = [{k: v[p["scores"] >= PLOT_MIN_SCORE] for k, v in p.items()} for p in preds]
        self.save_predictions(trainer, stage, detections_figure(images, preds, targets, names))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                pictures = [display_image(image) for image in images]
                log_wandb_boxes(
                    logger, f"{stage}/boxes", pictures, preds, targets, names, trainer.global_step
                )
