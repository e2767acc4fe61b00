"""LightningModules: one per task, sharing VisionTask."""

from visionlab.tasks.base import VisionTask
from visionlab.tasks.classification import ClassificationTask
from visionlab.tasks.detection import DetectionTask
from visionlab.tasks.instance import InstanceTask
from visionlab.tasks.segmentation import SegmentationTask

TASKS: dict[str, type[VisionTask]] = {
    "classify": ClassificationTask,
    "detect": DetectionTask,
    "instance": InstanceTask,
    "segment": SegmentationTask,
}

__all__ = [
    "TASKS",
    "ClassificationTask",
    "DetectionTask",
    "InstanceTask",
    "SegmentationTask",
    "VisionTask",
]
