"""LightningModules: one per task, sharing VisionTask."""

from visionlab.tasks.base import VisionTask
from visionlab.tasks.classification import ClassificationTask
from visionlab.tasks.detection import DetectionTask

TASKS: dict[str, type[VisionTask]] = {"classify": ClassificationTask, "detect": DetectionTask}

__all__ = ["TASKS", "ClassificationTask", "DetectionTask", "VisionTask"]
