"""Semantic segmentation: CE / Dice / CE+Dice with an ignore index, and mIoU, Dice, pixel
accuracy and per-class IoU from one confusion matrix."""

from __future__ import annotations

import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from visionlab.losses import SegmentationLoss
from visionlab.metrics import segmentation_scores
from visionlab.tasks.base import VisionTask, check_resolved

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
        """`loss`: `{kind: ce | focal | dice | ce_dice, gamma: focal's, class_weights: null |
        [w per class]}` (names such as `balanced` are resolved from the data by
        `resolve_args`)."""
        super().__init__(**task_args)
        self.save_hyperparameters()
        loss = {"kind": "ce", "class_weights": None, "gamma": 2.0, **(loss or {})}
        check_resolved(loss["class_weights"])
        self.criterion = SegmentationLoss(
            loss["kind"], ignore_index, loss["class_weights"], loss["gamma"]
        )
        num_classes = self.hparams.num_classes
        self.val_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)
        self.test_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)

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
        self.computed[stage] = {
            "confusion": confusion.cpu(),
            "scores": {k: v.cpu() for k, v in scores.items()},
        }
        return {k: scores[k] for k in SUMMARY_KEYS}

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities `(B, C, H, W)` for a batch of preprocessed images."""
        return self(images).softmax(dim=1)
