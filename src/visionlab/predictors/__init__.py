"""Prediction on image files, one writer per task, from a checkpoint alone."""

from visionlab.predictors.classification import predict_classification
from visionlab.predictors.detection import predict_detection
from visionlab.predictors.segmentation import predict_segmentation

PREDICTORS = {
    "classify": predict_classification,
    "detect": predict_detection,
    "instance": predict_detection,
    "segment": predict_segmentation,
}

__all__ = ["PREDICTORS", "predict_classification", "predict_detection", "predict_segmentation"]
