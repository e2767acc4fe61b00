"""LightningModules: one per task, sharing VisionTask."""

from visionlab.tasks.base import VisionTask
from visionlab.tasks.classification import ClassificationTask

TASKS: dict[str, type[VisionTask]] = {"classify": ClassificationTask}

__all__ = ["TASKS", "ClassificationTask", "VisionTask"]
