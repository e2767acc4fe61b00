"""Box operations: formats, the YOLOv1 grid encoding, and the lecture's IoU, NMS, RoI pooling
and AP written from scratch (`ops.scratch`). `batched_nms_op` picks the NMS used for decoding."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torchvision.ops

from visionlab.errors import ConfigError
from visionlab.ops import scratch

IOU_OPS = {"torchvision": torchvision.ops.box_iou, "scratch": scratch.box_iou}
NMS_OPS = ("torchvision", "scratch")


def batched_nms_op(nms: str = "torchvision", iou: str = "torchvision") -> Callable:
    """Class-wise NMS `(boxes, scores, classes, iou_threshold) -> kept indices`: torchvision's,
    or the greedy one of `ops.scratch` measuring overlap with the chosen IoU."""
    if nms not in NMS_OPS or iou not in IOU_OPS:
        raise ConfigError(f"ops.nms must be one of {NMS_OPS} and ops.iou one of {tuple(IOU_OPS)}")
    if nms == "torchvision":
        if iou != "torchvision":
            raise ConfigError(
                "ops.iou=scratch needs ops.nms=scratch (torchvision's NMS has its own)"
            )
        return torchvision.ops.batched_nms
    return partial(scratch.batched_nms, iou=IOU_OPS[iou])
