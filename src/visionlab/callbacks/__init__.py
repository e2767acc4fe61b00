"""Lightning callbacks: progress output, training speed, weight averaging, and the reports
(plots, per-class CSVs and W&B media) drawn from what each task's metrics computed."""

from visionlab.callbacks.classification_report import ClassificationReport
from visionlab.callbacks.detection_report import DetectionReport
from visionlab.callbacks.ema import EMA
from visionlab.callbacks.progress import LineProgressBar, auto_progress_bar
from visionlab.callbacks.segmentation_report import SegmentationReport
from visionlab.callbacks.speed import TrainSpeed


def reports() -> list:
    """One report callback per task family (each acts only on its own task)."""
    return [ClassificationReport(), DetectionReport(), SegmentationReport()]


__all__ = [
    "ClassificationReport",
    "DetectionReport",
    "EMA",
    "LineProgressBar",
    "SegmentationReport",
    "TrainSpeed",
    "auto_progress_bar",
    "reports",
]
