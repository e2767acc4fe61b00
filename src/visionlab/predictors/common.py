"""Reading image files in batches for prediction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from visionlab.data.io import load_rgb
from visionlab.errors import DataError

log = logging.getLogger(__name__)


def image_batches(
    files: Sequence[Path], preprocess: Callable[[np.ndarray], torch.Tensor], size: int
) -> Iterator[tuple[list[Path], torch.Tensor, list[np.ndarray]]]:
    """Yield `(paths, preprocessed batch, original RGB images)`; unreadable files are
    reported and skipped."""
    paths, tensors, originals = [], [], []
    for path in files:
        try:
            image = load_rgb(path)
        except DataError as err:
            log.warning("Skipped %s", err)
            continue
        paths.append(path)
        tensors.append(preprocess(image))
        originals.append(image)
        if len(paths) == size:
            yield paths, torch.stack(tensors), originals
            paths, tensors, originals = [], [], []
    if paths:
        yield paths, torch.stack(tensors), originals
