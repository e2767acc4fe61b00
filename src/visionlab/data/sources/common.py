"""Helpers shared by the source readers."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from visionlab.data.io import image_size
from visionlab.errors import DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
# The names a split's folder or file goes by; `valid` and `validation` are common exports' val.
SPLIT_NAMES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
SPLITS = tuple(SPLIT_NAMES)


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def find_splits(root: Path, pattern: str = "{}") -> dict[str, str]:
    """The name each split present under `root` goes by, found by formatting `pattern` (e.g.
    `{}.csv`, `images/{}`) with each of its names in turn."""
    found = {}
    for split, names in SPLIT_NAMES.items():
        for name in names:
            if (root / pattern.format(name)).exists():
                found[split] = name
                break
    return found


def labelled_size(path: Path, stated=None) -> tuple[float, float] | None:
    """(width, height) the boxes are read against: `stated` where the labels give both sides
    (some tools write 0, or nothing), else the image's own; None for an image that cannot be
    read, which the data check reports and skips."""
    if stated and all((side or 0) > 0 for side in stated):
        return stated
    try:
        return image_size(path)
    except DataError:
        return None


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


def item_path(root: Path, relative: str, where: str, skipped: list) -> Path | None:
    """The image file an annotation names under `root`, or None after reporting in `skipped`
    why not (missing, or a path that escapes the dataset root)."""
    try:
        path = resolve_inside(root, relative)
    except DataError as err:
        skipped.append((where, f"refused: {err}"))
        return None
    if not path.is_file():
        skipped.append((where, f"image '{relative}' not found"))
        return None
    return path


def clean_boxes(
    boxes, labels, width: float, height: float, where: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Clip xyxy boxes to the image; drop non-finite, degenerate (under 1 px wide or high after
    clipping) and duplicate ones (same class and coordinates as an earlier box).

    Returns the kept boxes, the positions of the kept boxes in the input (to select labels or
    anything else kept per object) and a (where, reason) per change.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    problems = []
    finite = np.isfinite(boxes).all(axis=1)
    clipped = np.nan_to_num(boxes)
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    keep = finite & (clipped[:, 2] - clipped[:, 0] >= 1) & (clipped[:, 3] - clipped[:, 1] >= 1)
    for i in np.flatnonzero(~keep):
        problems.append(
            (where, f"box {boxes[i].tolist()} dropped: degenerate or outside the image")
        )
    for i in np.flatnonzero(keep & (np.abs(clipped - boxes) > 1e-3).any(axis=1)):
        problems.append((where, f"box {boxes[i].tolist()} clipped to the image"))
    seen = set()
    for i in np.flatnonzero(keep):
        key = (int(labels[i]), *np.round(clipped[i], 2).tolist())
        if key in seen:
            keep[i] = False
            problems.append((where, f"box {boxes[i].tolist()} dropped: duplicate"))
        seen.add(key)
    return clipped[keep], np.flatnonzero(keep), problems
