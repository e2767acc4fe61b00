"""Records that sources produce and datasets consume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ClassificationSample:
    """One image file and its class index (0..C-1)."""

    path: Path
    label: int


@dataclass(frozen=True, eq=False)
class DetectionSample:
    """One image file and its objects: `boxes` float32 (N, 4) absolute pixel xyxy,
    `labels` int64 (N,) in 0..C-1. N may be 0 (a background image). Instance segmentation adds
    one COCO `segmentation` per object and the image's (height, width)."""

    path: Path
    boxes: np.ndarray
    labels: np.ndarray
    segmentations: tuple | None = None
    size: tuple[int, int] | None = None

    @staticmethod
    def create(path: Path, boxes, labels, segmentations=None, size=None) -> DetectionSample:
        return DetectionSample(
            Path(path),
            np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            np.asarray(labels, dtype=np.int64).reshape(-1),
            None if segmentations is None else tuple(segmentations),
            size,
        )


@dataclass(frozen=True)
class SegmentationSample:
    """One image file and its mask file (decoded to class ids by the source's MaskDecoder)."""

    path: Path
    mask_path: Path


@dataclass
class SourceIndex:
    """What a source found on disk: samples per split and the class names.

    Mask sources also give the `mask_decoder` that turns their mask files into class ids.
    """

    splits: dict[str, list]
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    mask_decoder: Callable[[Path], np.ndarray] | None = None

    def split(self, name: str) -> list:
        return self.splits.get(name, [])
