"""Object detection with any detector of torchvision's contract (each owns its loss, decoding,
thresholds and NMS); COCO mAP with torchmetrics (drawn by `callbacks.DetectionReport`)."""

from __future__ import annotations

import logging

import torch

from visionlab.metrics import DetectionConfusionMatrix, ShardedMeanAveragePrecision
from visionlab.models.detector_adapter import loss_mode
from visionlab.tasks.base import VisionTask

logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)  # its summary tables are noise

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
        num_classes = self.hparams.num_classes
        self.confusion = torch.nn.ModuleDict(
            {stage: DetectionConfusionMatrix(num_classes) for stage in ("val", "test")}
        )

    def probe_loss(self, model, batch, device):
        images, targets = batch
        targets = [{k: v.to(device) for k, v in t.items() if torch.is_tensor(v)} for t in targets]
        return sum(model(images.to(device), targets).values())

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
            self.log_mean(f"{stage}/loss_{key.removeprefix('loss_')}", value, batch_size)

    def update_metrics(self, stage, preds, targets):
        if stage == "train":
            return
        metric = self.val_map if stage == "val" else self.test_map
        preds = [
            {k: p[k].float() if k != "labels" else p[k] for k in ("boxes", "scores", "labels")}
            for p in preds
        ]
        targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]
        metric.update(preds, targets)
        self.confusion[stage].update(preds, targets)

    # --- epoch ends ------------------------------------------------------------------------------
    def reset_metrics(self, stage):
        (self.val_map if stage == "val" else self.test_map).reset()
        self.confusion[stage].reset()

    def on_validation_epoch_end(self) -> None:
        values = self._compute("val", self.val_map)
        self.track_best(values[self.monitor.split("/", 1)[-1]])

    def on_test_epoch_end(self) -> None:
        self._compute("test", self.test_map)

    def _log_map(
        self, stage: str, metric: ShardedMeanAveragePrecision, keys: dict[str, str]
    ) -> tuple[dict, dict]:
        """Compute and reset `metric`, log its `keys` (result key -> logged name) for the
        stage; return the whole result and the logged values."""
        result = metric.compute()
        metric.reset()
        values = {name: result[key].float() for key, name in keys.items()}
        self.log_dict(
            {f"{stage}/{k}": v for k, v in values.items()}, sync_dist=True, prog_bar=stage == "val"
        )
        return result, values

    def _compute(self, stage: str, metric: ShardedMeanAveragePrecision) -> dict:
        """Log the stage's mAP values; keep the whole result for the reports."""
        result, values = self._log_map(stage, metric, MAP_KEYS)
        self.computed[stage] = {
            "map": {k: v.cpu() for k, v in result.items() if isinstance(v, torch.Tensor)},
            "confusion": self.confusion[stage].compute().cpu().numpy(),
        }
        self.confusion[stage].reset()
        return values

    @torch.no_grad()
    def predict_boxes(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Detections for a batch of preprocessed images, in their pixel coordinates."""
        return self.model(images.contiguous(memory_format=self.memory_format))
