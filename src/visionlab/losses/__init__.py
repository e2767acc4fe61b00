"""Losses written for visionlab: the YOLOv1 sum-squared loss, segmentation losses, and the
focal loss and class weights for imbalanced classes."""

from visionlab.losses.class_balance import (
    balanced_weights,
    focal_loss,
    median_frequency_weights,
    resolve_class_weights,
)
from visionlab.losses.segmentation import SegmentationLoss, dice_loss
from visionlab.losses.yolov1 import YoloV1Loss

__all__ = [
    "SegmentationLoss",
    "YoloV1Loss",
    "balanced_weights",
    "dice_loss",
    "focal_loss",
    "median_frequency_weights",
    "resolve_class_weights",
]
