"""Losses written for visionlab: the YOLOv1 sum-squared loss."""

from visionlab.losses.yolov1 import YoloV1Loss

__all__ = ["YoloV1Loss"]
