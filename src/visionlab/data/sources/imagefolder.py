"""ImageFolder: `root/<split>/<class>/<image>` (split: train, val or valid, test), or
`root/<class>/<image>` split at random."""

from __future__ import annotations

from pathlib import Path

from visionlab.data.samples import ClassificationSample, SourceIndex
from visionlab.data.sources.common import (
    find_splits,
    is_image_file,
    random_split,
    require_dir,
    sorted_class_names,
)
from visionlab.errors import DataError


def _class_dirs(folder: Path) -> dict[str, Path]:
    return {
        d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")
    }


def _scan(folder: Path, class_to_idx: dict[str, int]) -> tuple[list, list]:
    samples, skipped = [], []
    if loose := sum(is_image_file(path) for path in folder.iterdir()):
        skipped.append(
            (str(folder), f"{loose} image(s) outside class folders (unlabelled) left out")
        )
    for name, class_dir in _class_dirs(folder).items():
        if name not in class_to_idx:
            raise DataError(
                f"{class_dir}: class '{name}' does not appear in the train split "
                f"(train classes: {', '.join(class_to_idx)})"
            )
        for path in sorted(class_dir.rglob("*")):
            if is_image_file(path):
                samples.append(ClassificationSample(path, class_to_idx[name]))
            elif path.is_file() and not path.name.startswith("."):
                skipped.append((str(path), "not an image file extension"))
    return samples, skipped


def read_imagefolder(
    root: str | Path, val_fraction: float = 0.2, seed: int = 0, **_: object
) -> SourceIndex:
    """Read an ImageFolder tree; class names are the train split's sub-folder names."""
    root = require_dir(root, "ImageFolder")
    split_dirs = {s: root / name for s, name in find_splits(root).items() if (root / name).is_dir()}
    if split_dirs and "train" not in split_dirs:
        raise DataError(f"{root}: found {sorted(split_dirs)} but no 'train' folder")
    train_dir = split_dirs.get("train", root)
    class_names = sorted_class_names(_class_dirs(train_dir))
    if not class_names:
        raise DataError(f"{train_dir}: no class sub-folders found (expected <class>/<image>)")
    class_to_idx = {name: i for i, name in enumerate(class_names)}

    splits, skipped = {}, []
    for split, folder in (split_dirs or {"train": root}).items():
        splits[split], bad = _scan(folder, class_to_idx)
        skipped += bad
    if "val" not in splits:
        splits["train"], splits["val"] = random_split(splits["train"], val_fraction, seed)
    return SourceIndex(splits, class_names, skipped)
