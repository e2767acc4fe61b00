"""Prediction on image files, one writer per task, from a checkpoint alone."""

from visionlab.predictors.classification import predict_classification

PREDICTORS = {"classify": predict_classification}

__all__ = ["PREDICTORS", "predict_classification"]
