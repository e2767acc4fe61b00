"""Detection CSV: one row per box, `filename,width,height,class,xmin,ymin,xmax,ymax`.

One file per split (`files: {train: train.csv, val: val.csv}`), or a train file alone that is
split at random. Class names are those of every file, sorted. Filenames are relative to
`images`. `one_based: true` shifts xmin/ymin by one pixel, for boxes written in VOC's 1-based
convention. With no `files`, `<split>.csv` are read, or else each split folder's
`_annotations.csv` with the images beside it (as common exporters write them; `valid` names
val in both).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    clean_boxes,
    find_splits,
    item_path,
    random_split,
    require_dir,
    resolve_inside,
    sorted_class_names,
)
from visionlab.errors import DataError

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"CSV file '{path}' does not exist")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path}: missing column(s) {sorted(missing)}")
        return [row | {"_line": n} for n, row in enumerate(reader, start=2)]


def read_csv_boxes(
    root: str | Path,
    files: dict[str, str] | None = None,
    images: str = ".",
    one_based: bool = False,
    val_fraction: float = 0.2,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    root = require_dir(root, "CSV detection dataset")
    image_dirs = {}
    if not files and "train" in (beside := find_splits(root, "{}/_annotations.csv")):
        files = {s: f"{name}/_annotations.csv" for s, name in beside.items()}
        image_dirs = {s: root / name for s, name in beside.items()}
    elif not files:
        files = {s: f"{name}.csv" for s, name in find_splits(root, "{}.csv").items()}
    present = {s: f for s, f in files.items() if s == "train" or (root / f).is_file()}
    files = {"train": "train.csv"} | present
    rows = {split: _read(root / name) for split, name in files.items()}
    class_names = sorted_class_names(r["class"] for split in rows.values() for r in split)
    class_to_idx = {name: i for i, name in enumerate(class_names)}

    splits, skipped = {}, []
    for split, split_rows in rows.items():
        grouped: dict[str, list[dict]] = defaultdict(list)
        for row in split_rows:
            grouped[row["filename"]].append(row)
        image_dir = image_dirs.get(split) or resolve_inside(root, images)
        samples = []
        for filename, group in grouped.items():
            where = f"{root / files[split]}:{group[0]['_line']}"
            path = item_path(image_dir, filename, where, skipped)
            if path is None:
                continue
            boxes, labels = [], []
            for row in group:
                try:
                    box = [float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
                except ValueError:
                    skipped.append((f"{root / files[split]}:{row['_line']}", "non-numeric box"))
                    continue
                if one_based:
                    box[0] -= 1
                    box[1] -= 1
                boxes.append(box)
                labels.append(class_to_idx[row["class"]])
            try:
                width, height = float(group[0]["width"]), float(group[0]["height"])
            except ValueError:
                skipped.append((where, "non-numeric width or height"))
                continue
            kept, positions, problems = clean_boxes(boxes, labels, width, height, where)
            skipped += problems
            samples.append(DetectionSample.create(path, kept, np.asarray(labels)[positions]))
        splits[split] = samples
    if "val" not in splits:
        splits["train"], splits["val"] = random_split(splits["train"], val_fraction, seed)
    return SourceIndex(splits, class_names, skipped)
