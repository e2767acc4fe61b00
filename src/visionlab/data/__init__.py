"""Data: on-disk sources, albumentations pipelines and Lightning data modules."""

from visionlab.data.datamodule import VisionDataModule
from visionlab.data.task_modules import (
    ClassificationDataModule,
    DetectionDataModule,
    InstanceDataModule,
    SegmentationDataModule,
)

__all__ = [
    "ClassificationDataModule",
    "DetectionDataModule",
    "InstanceDataModule",
    "SegmentationDataModule",
    "VisionDataModule",
]
