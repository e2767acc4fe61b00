"""The embedded `shapes` dataset, generated on first use and read back through the ImageFolder
(classification), COCO (detection) or mask-folder (segmentation) readers."""

from __future__ import annotations

from pathlib import Path

from visionlab.data.samples import SourceIndex
from visionlab.data.shapes import CLASS_NAMES, ensure_generated
from visionlab.data.sources.coco import read_coco
from visionlab.data.sources.imagefolder import read_imagefolder
from visionlab.data.sources.masks import read_mask_folders

DEFAULT_COUNTS = {"train": 300, "val": 90, "test": 90}


def read_shapes(
    root: str | Path,
    counts: dict[str, int] | None = None,
    image_size: int = 96,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    """Generate `root/classify` if needed, then read it like any ImageFolder dataset."""
    counts = dict(counts or DEFAULT_COUNTS)
    return read_imagefolder(ensure_generated(Path(root) / "classify", counts, image_size, seed))


def read_shapes_detection(
    root: str | Path,
    counts: dict[str, int] | None = None,
    image_size: int = 160,
    seed: int = 0,
    masks: bool = False,
    **_: object,
) -> SourceIndex:
    """Generate `root/detect` (multi-shape scenes, COCO JSON with RLE instance masks) if needed,
    then read it as COCO (with the masks when `masks`)."""
    counts = dict(counts or DEFAULT_COUNTS)
    folder = ensure_generated(Path(root) / "detect", counts, image_size, seed, "detect")
    return read_coco(folder, masks=masks)


def read_shapes_segmentation(
    root: str | Path,
    counts: dict[str, int] | None = None,
    image_size: int = 128,
    seed: int = 0,
    ignore_index: int = 255,
    **_: object,
) -> SourceIndex:
    """Generate `root/segment` (scenes with class-index masks) if needed, then read it."""
    counts = dict(counts or DEFAULT_COUNTS)
    folder = ensure_generated(Path(root) / "segment", counts, image_size, seed, "segment")
    return read_mask_folders(
        folder, classes=["background", *CLASS_NAMES], ignore_index=ignore_index
    )
