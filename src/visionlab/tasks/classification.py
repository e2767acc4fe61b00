"""Image classification: cross-entropy, accuracy/top-5/macro-F1 and a confusion matrix (drawn
by `callbacks.ClassificationReport`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from visionlab.tasks.base import VisionTask


def _metrics(num_classes: int, prefix: str) -> MetricCollection:
    metrics = {
        "acc": MulticlassAccuracy(num_classes, average="micro"),
        "f1_macro": MulticlassF1Score(num_classes, average="macro"),
    }
    if num_classes >= 5:
        metrics["acc_top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    return MetricCollection(metrics, prefix=prefix)


class ClassificationTask(VisionTask):
    """Batches are `(images (B, 3, H, W), labels (B,))`; the model returns `(B, C)` logits."""

    name = "classify"

    def __init__(self, label_smoothing: float = 0.0, **task_args) -> None:
        """`task_args` are VisionTask's; `label_smoothing` goes to the cross-entropy."""
        super().__init__(**task_args)
        self.save_hyperparameters()
        num_classes = self.hparams.num_classes
        self.label_smoothing = label_smoothing
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_metrics = _metrics(num_classes, "val/")
        self.test_metrics = _metrics(num_classes, "test/")
        self.val_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_confusion = MulticlassConfusionMatrix(num_classes)

    def model_step(self, batch):
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        return loss, logits, labels

    def update_metrics(self, stage, preds, targets):
        if stage == "train":
            self.train_acc(preds, targets)
            self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
            return
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics(preds, targets)
        self.log_dict(metrics, on_epoch=True, prog_bar=stage == "val")
        (self.val_confusion if stage == "val" else self.test_confusion).update(preds, targets)

    def reset_metrics(self, stage):
        (self.val_metrics if stage == "val" else self.test_metrics).reset()
        (self.val_confusion if stage == "val" else self.test_confusion).reset()

    def on_validation_epoch_end(self) -> None:
        key = self.monitor.split("/", 1)[-1]
        if key in self.val_metrics:
            self.track_best(self.val_metrics[key].compute())
        self._confusion_matrix("val", self.val_confusion)

    def on_test_epoch_end(self) -> None:
        self._confusion_matrix("test", self.test_confusion)

    def _confusion_matrix(self, stage: str, metric: MulticlassConfusionMatrix) -> None:
        """Keep the stage's confusion matrix for the reports (`ClassificationReport`)."""
        self.computed[stage] = {"confusion": metric.compute().cpu().numpy()}
        metric.reset()

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities `(B, C)` for a batch of preprocessed images."""
        return self(images).softmax(dim=-1)
