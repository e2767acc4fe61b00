"""Data: on-disk sources, albumentations pipelines and Lightning data modules."""

from visionlab.data.datamodule import (
    ClassificationDataModule,
    DetectionDataModule,
    InstanceDataModule,
    SegmentationDataModule,
    VisionDataModule,
)

__all__ = [
    "ClassificationDataModule",
    "DetectionDataModule",
    "InstanceDataModule",
    "SegmentationDataModule",
    "VisionDataModule",
]
