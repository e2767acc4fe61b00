"""visionlab: a Lightning + Hydra framework for computer-vision experiments."""

__version__ = "0.2.0"
__all__ = ["__version__", "load_model"]


def __getattr__(name: str):
    # imported on first use: a process that needs one light module (a stream writer's spawned
    # worker) does not import Lightning
    if name == "load_model":
        from visionlab.utils.checkpoint import load_model

        return load_model
    raise AttributeError(f"module 'visionlab' has no attribute {name!r}")
