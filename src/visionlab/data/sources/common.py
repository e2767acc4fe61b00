"""Helpers shared by the source readers."""

from __future__ import annotations

import os
import random
from pathlib import Path

from visionlab.errors import DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
SPLITS = ("train", "val", "test")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def require_dir(root: str | Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{what} root '{root}' is not a directory. Set data.root=<path>.")
    return root


def resolve_inside(root: Path, relative: str) -> Path:
    """The file `relative` names under `root`; refuses paths that escape the dataset root.

    The check is lexical, so symbolic links inside the dataset are followed as usual.
    """
    candidate = Path(relative)
    if candidate.is_absolute():
        raise DataError(f"'{relative}' is an absolute path; paths must be relative to {root}")
    if ".." in Path(os.path.normpath(candidate)).parts:
        raise DataError(f"'{relative}' points outside the dataset root {root}")
    return root / candidate


def random_split(samples: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded shuffle split into (train, val); val gets at least one sample."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
    order = list(samples)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_fraction))
    return order[n_val:], order[:n_val]


def sorted_class_names(names) -> list[str]:
    """Class names in a stable order: numeric names by value, others alphabetically."""
    names = set(names)
    if all(n.isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)
