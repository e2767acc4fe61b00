"""Losses written for visionlab: the YOLOv1 sum-squared loss and segmentation losses."""

from visionlab.losses.segmentation import SegmentationLoss, dice_loss, median_frequency_weights
from visionlab.losses.yolov1 import YoloV1Loss

__all__ = ["SegmentationLoss", "YoloV1Loss", "dice_loss", "median_frequency_weights"]
