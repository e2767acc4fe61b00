"""LightningModules: one per task, sharing VisionTask."""

from visionlab.tasks.base import VisionTask
from visionlab.tasks.classification import ClassificationTask
from visionlab.tasks.detection import DetectionTask
from visionlab.tasks.segmentation import SegmentationTask

TASKS: dict[str, type[VisionTask]] = {
    "classify": ClassificationTask,
    "detect": DetectionTask,
    "segment": SegmentationTask,
}

__all__ = ["TASKS", "ClassificationTask", "DetectionTask", "SegmentationTask", "VisionTask"]
