"""Data: on-disk sources, albumentations pipelines and Lightning data modules."""

from importlib import import_module

_MODULE_OF = {
    "VisionDataModule": "visionlab.data.datamodule",
    "ClassificationDataModule": "visionlab.data.task_modules",
    "DetectionDataModule": "visionlab.data.task_modules",
    "InstanceDataModule": "visionlab.data.task_modules",
    "SegmentationDataModule": "visionlab.data.task_modules",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    # imported on first use, as in visionlab/__init__.py
    if name in _MODULE_OF:
        return getattr(import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'visionlab.data' has no attribute {name!r}")
