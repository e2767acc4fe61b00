"""What a detector keeps of its scored boxes: one definition shared by every detector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
from torchvision.ops import batched_nms


@dataclass(frozen=True)
class DetectionLimits:
    """Boxes scoring at least `score_threshold`, merged per class by NMS at `nms_iou`, the best
    `detections_per_image` of them. Every detector reads these from its flat config keys
    (`model.score_threshold`, `model.nms_iou`, `model.detections_per_image`)."""

    score_threshold: float = 0.05
    nms_iou: float = 0.5
    detections_per_image: int = 100

    @classmethod
    def split(cls, options: dict) -> tuple[DetectionLimits, dict]:
        """The limits named in `options`, and the options left."""
        names = {f.name for f in fields(cls)}
        rest = {k: v for k, v in options.items() if k not in names}
        return cls(**{k: v for k, v in options.items() if k in names}), rest

    def select(
        self, boxes: torch.Tensor, scores: torch.Tensor, nms: Callable = batched_nms
    ) -> dict[str, torch.Tensor]:
        """`(K, 4)` boxes with `(K, C)` class scores -> `{boxes, scores, labels}` of the kept
        detections, best first; a box may be kept for several classes. `nms`: torchvision's
        `batched_nms` or `visionlab.ops.batched_nms_op(...)`."""
        box_index, labels = torch.nonzero(scores >= self.score_threshold, as_tuple=True)
        boxes, scores = boxes[box_index], scores[box_index, labels]
        kept = nms(boxes, scores, labels, self.nms_iou)[: self.detections_per_image]
        return {"boxes": boxes[kept], "scores": scores[kept], "labels": labels[kept]}
