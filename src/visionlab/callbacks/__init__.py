"""Lightning callbacks: progress output and training speed."""

from visionlab.callbacks.progress import LineProgressBar, auto_progress_bar
from visionlab.callbacks.speed import TrainSpeed

__all__ = ["LineProgressBar", "TrainSpeed", "auto_progress_bar"]
