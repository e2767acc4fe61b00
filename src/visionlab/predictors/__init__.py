"""Prediction on image files, one writer per task, from a checkpoint alone."""

from visionlab.predictors.classification import predict_classification
from visionlab.predictors.detection import predict_detection

PREDICTORS = {"classify": predict_classification, "detect": predict_detection}

__all__ = ["PREDICTORS", "predict_classification", "predict_detection"]
