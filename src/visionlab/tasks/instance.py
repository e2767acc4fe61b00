"""Instance segmentation (Mask R-CNN): the detection task plus mask mAP."""

from __future__ import annotations

import torch

from visionlab.metrics import ShardedMeanAveragePrecision
from visionlab.tasks.detection import DetectionTask

MASK_THRESHOLD = 0.5  # a predicted mask's probability above which a pixel belongs to it
MASK_KEYS = {"map": "mask_mAP", "map_50": "mask_mAP50", "map_75": "mask_mAP75"}


def _mask_map() -> ShardedMeanAveragePrecision:
    return ShardedMeanAveragePrecision(iou_type="segm", backend="faster_coco_eval")


class InstanceTask(DetectionTask):
    """Batches are detection batches whose targets hold `masks` (N, H, W); predictions add
    `masks` (N, 1, H, W) probabilities. Box metrics keep their names (`val/mAP50`, …); mask
    metrics are `val/mask_mAP`, `val/mask_mAP50`, `val/mask_mAP75`."""

    name = "instance"

    def __init__(self, **task_args) -> None:
        super().__init__(**task_args)
        self.val_mask_map, self.test_mask_map = _mask_map(), _mask_map()

    def update_metrics(self, stage, preds, targets):
        super().update_metrics(stage, preds, targets)
        if stage == "train":
            return
        metric = self.val_mask_map if stage == "val" else self.test_mask_map
        metric.update(
            [
                {
                    "masks": p["masks"][:, 0] > MASK_THRESHOLD,
                    "scores": p["scores"].float(),
                    "labels": p["labels"],
                }
                for p in preds
            ],
            [{"masks": t["masks"].bool(), "labels": t["labels"]} for t in targets],
        )

    def reset_metrics(self, stage):
        super().reset_metrics(stage)
        (self.val_mask_map if stage == "val" else self.test_mask_map).reset()

    def on_validation_epoch_end(self) -> None:
        values = self._compute("val", self.val_map) | self._compute_masks("val", self.val_mask_map)
        self.track_best(values[self.monitor.split("/", 1)[-1]])

    def on_test_epoch_end(self) -> None:
        self._compute("test", self.test_map)
        self._compute_masks("test", self.test_mask_map)

    def _compute_masks(self, stage: str, metric: ShardedMeanAveragePrecision) -> dict:
        return self._log_map(stage, metric, MASK_KEYS)[1]

    @torch.no_grad()
    def predict_instances(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Detections with `masks` (N, H, W) bool in the input's pixels, per image."""
        return [
            {**p, "masks": p["masks"][:, 0] > MASK_THRESHOLD} for p in self.predict_boxes(images)
        ]
