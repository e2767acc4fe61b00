"""visionlab: a Lightning + Hydra framework for computer-vision experiments."""

from visionlab.utils.checkpoint import load_model

__version__ = "0.2.0"
__all__ = ["__version__", "load_model"]
