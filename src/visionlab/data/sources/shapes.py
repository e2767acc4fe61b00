"""The embedded `shapes` dataset, generated on first use and read back as an ImageFolder."""

from __future__ import annotations

from pathlib import Path

from visionlab.data.samples import SourceIndex
from visionlab.data.shapes import ensure_generated
from visionlab.data.sources.imagefolder import read_imagefolder

DEFAULT_COUNTS = {"train": 300, "val": 90, "test": 90}


def read_shapes(
    root: str | Path,
    counts: dict[str, int] | None = None,
    image_size: int = 96,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    """Generate `root/classify` if needed, then read it like any ImageFolder dataset."""
    folder = ensure_generated(
        Path(root) / "classify", dict(counts or DEFAULT_COUNTS), image_size, seed
    )
    return read_imagefolder(folder)
