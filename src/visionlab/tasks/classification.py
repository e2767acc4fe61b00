"""Image classification: cross-entropy or focal loss (with class weights, and mixed labels from
`data.mix`), accuracy/top-5/macro-F1 and a confusion matrix (drawn by
`callbacks.ClassificationReport`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from visionlab.errors import ConfigError
from visionlab.losses import focal_loss
from visionlab.tasks.base import VisionTask, check_resolved

LOSSES = ("ce", "focal")


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

    def __init__(self, label_smoothing: float = 0.0, loss: dict | None = None, **task_args) -> None:
        """`task_args` are VisionTask's; `loss`: `{kind: ce | focal, gamma: focal's,
        class_weights: null | [w per class]}` (names such as `balanced` are resolved from the
        data by `resolve_args`); `label_smoothing` applies to either loss."""
        super().__init__(**task_args)
        self.save_hyperparameters()
        num_classes = self.hparams.num_classes
        self.label_smoothing = label_smoothing
        loss = {"kind": "ce", "gamma": 2.0, "class_weights": None, **(loss or {})}
        if loss["kind"] not in LOSSES:
            raise ConfigError(f"task.loss.kind={loss['kind']}: choose one of {', '.join(LOSSES)}")
        check_resolved(loss["class_weights"])
        self.loss_kind, self.gamma = loss["kind"], loss["gamma"]
        weights = loss["class_weights"]
        weights = None if weights is None else torch.tensor(weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_metrics = _metrics(num_classes, "val/")
        self.test_metrics = _metrics(num_classes, "test/")
        self.val_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_confusion = MulticlassConfusionMatrix(num_classes)

    def model_step(self, batch):
        """Labels are class indices, or class probabilities `(B, C)` when `data.mix` mixed
        the batch (scored against their largest share)."""
        images, labels = batch
        logits = self(images)
        hard = labels.argmax(dim=1) if labels.is_floating_point() else labels
        return self.criterion(logits, labels), logits, hard

    def criterion(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.loss_kind == "ce":
            return F.cross_entropy(
                logits, labels, weight=self.class_weights, label_smoothing=self.label_smoothing
            )
        if self.label_smoothing:
            num_classes = logits.shape[1]
            if not labels.is_floating_point():
                labels = F.one_hot(labels, num_classes).float()
            labels = labels * (1 - self.label_smoothing) + self.label_smoothing / num_classes
        return focal_loss(logits, labels, self.gamma, self.class_weights)

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
