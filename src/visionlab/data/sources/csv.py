"""CSV labels: `path,label` rows, paths relative to the dataset root.

Either one file per split (`train.csv`, `val.csv` or `valid.csv`, optional `test.csv`) or a
single `labels.csv` that is split at random.
"""

from __future__ import annotations

import csv
from pathlib import Path

from visionlab.data.samples import ClassificationSample, SourceIndex
from visionlab.data.sources.common import (
    find_splits,
    item_path,
    random_split,
    require_dir,
    sorted_class_names,
)
from visionlab.errors import DataError


def _read_rows(csv_path: Path, path_column: str, label_column: str) -> list[tuple[str, str]]:
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {path_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise DataError(
                f"{csv_path}: missing column(s) {sorted(missing)}; found {reader.fieldnames}"
            )
        return [(row[path_column], row[label_column].strip()) for row in reader]


def read_csv_labels(
    root: str | Path,
    path_column: str = "path",
    label_column: str = "label",
    val_fraction: float = 0.2,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    """Read per-split CSV files (or one `labels.csv`) of image paths and class names."""
    root = require_dir(root, "CSV dataset")
    files = {s: root / f"{name}.csv" for s, name in find_splits(root, "{}.csv").items()}
    if not files:
        if not (root / "labels.csv").is_file():
            raise DataError(f"{root}: expected train.csv + val.csv (or labels.csv)")
        files = {"train": root / "labels.csv"}
    if "train" not in files:
        raise DataError(f"{root}: found {sorted(files)} CSV files but no train.csv")

    rows = {split: _read_rows(f, path_column, label_column) for split, f in files.items()}
    class_names = sorted_class_names(label for _, label in rows["train"])
    class_to_idx = {name: i for i, name in enumerate(class_names)}

    splits, skipped = {}, []
    for split, split_rows in rows.items():
        splits[split] = []
        for line, (relative, label) in enumerate(split_rows, start=2):
            where = f"{files[split]}:{line}"
            if label not in class_to_idx:
                skipped.append((where, f"class '{label}' is not in the train split"))
            elif path := item_path(root, relative, where, skipped):
                splits[split].append(ClassificationSample(path, class_to_idx[label]))
    if "val" not in splits:
        splits["train"], splits["val"] = random_split(splits["train"], val_fraction, seed)
    return SourceIndex(splits, class_names, skipped)
