"""Errors a user can fix. Entry points print their message without a traceback."""


class VisionlabError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class ConfigError(VisionlabError):
    """An invalid or incompatible configuration."""


class DataError(VisionlabError):
    """A dataset that cannot be read as configured."""


class WeightsError(VisionlabError):
    """Pretrained weights or a checkpoint that cannot be loaded."""


class TrainingError(VisionlabError):
    """Training that cannot go on (a non-finite loss or weights)."""
