"""YOLO txt labels with an Ultralytics-style data YAML.

The YAML gives `path` (dataset root, optional), `train`/`val`/`test` image folders relative to
it, and `names` (a list, or a dict id -> name); a folder written `../<split>/images`, as some
exporters do, is read as `<split>/images` under the root, and a `path` outside the root (written
for another machine) is reported and not used. Each image `.../images/<name>.jpg`
has its labels in `.../labels/<name>.txt`, one `class cx cy w h` line per box, normalised to
[0, 1]; a line `class x1 y1 x2 y2 x3 y3 ...` (a segmentation polygon) gives the box around it.
An image without a label file is a background image; a label file without an image is
reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    SPLITS,
    clean_boxes,
    is_image_file,
    labelled_size,
    random_split,
    require_dir,
    resolve_inside,
)
from visionlab.errors import DataError


def _label_dir(image_dir: Path) -> Path:
    parts = list(image_dir.parts)
    if "images" not in parts:
        return image_dir
    i = len(parts) - 1 - parts[::-1].index("images")
    return Path(*parts[:i], "labels", *parts[i + 1 :])


def _box(values: list[float]) -> tuple[float, float, float, float]:
    """`cx cy w h`, or the box around a polygon's `x1 y1 x2 y2 ...` (segmentation labels)."""
    if len(values) == 4:
        return tuple(values)
    xs, ys = values[0::2], values[1::2]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)


def _read_labels(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows, problems = [], []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            cls, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            values = []
        if len(values) != 4 and (len(values) < 6 or len(values) % 2):
            problems.append(
                f"line {n}: expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 ...', "
                f"got '{line.strip()}'"
            )
            continue
        if not 0 <= cls < num_classes:
            problems.append(f"line {n}: class {cls} is not in 0..{num_classes - 1}")
            continue
        rows.append((cls, *_box(values)))
    data = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
    return data[:, 1:], data[:, 0].astype(np.int64), problems


def _image_dir(base: Path, split: str, folder: object, spec_path: Path) -> Path:
    if not isinstance(folder, str) or Path(folder).suffix == ".txt":
        raise DataError(
            f"{spec_path}: {split} '{folder}' is not an image folder (lists of folders and "
            "image list files are not read)"
        )
    image_dir = resolve_inside(base, folder.removeprefix("../"))
    if not image_dir.is_dir():
        raise DataError(f"{spec_path}: the {split} image folder '{image_dir}' does not exist")
    return image_dir


def read_yolo(
    root: str | Path,
    data_yaml: str = "data.yaml",
    val_fraction: float = 0.2,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    root = require_dir(root, "YOLO")
    spec_path = resolve_inside(root, data_yaml)
    if not spec_path.is_file():
        raise DataError(f"{root}: no '{data_yaml}' (Ultralytics data YAML with train/val/names)")
    spec = yaml.safe_load(spec_path.read_text()) or {}
    names = spec.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names or "train" not in spec:
        raise DataError(f"{spec_path}: needs 'train' and 'names'")
    index, skipped = {}, []
    try:
        base = resolve_inside(root, spec.get("path") or ".")
    except DataError:  # a path written for another machine: the folders are the root's
        base = root
        skipped.append((str(spec_path), f"path '{spec['path']}' is outside {root}; not used"))
    for split in SPLITS:
        if split not in spec:
            continue
        image_dir = _image_dir(base, split, spec[split], spec_path)
        label_dir = _label_dir(image_dir)
        images = sorted(p for p in image_dir.rglob("*") if is_image_file(p))
        samples = []
        for path in images:
            label = label_dir / path.relative_to(image_dir).with_suffix(".txt")
            boxes, labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
            if label.is_file():
                cxcywh, labels, problems = _read_labels(label, len(names))
                skipped += [(str(label), p) for p in problems]
                if (size := labelled_size(path)) is None:
                    samples.append(DetectionSample.create(path, [], []))
                    continue
                width, height = size
                cx, cy, w, h = (cxcywh * [width, height, width, height]).T
                boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
                boxes, kept, problems = clean_boxes(boxes, labels, width, height, str(label))
                labels = labels[kept]
                skipped += problems
            samples.append(DetectionSample.create(path, boxes, labels))
        stems = {p.relative_to(image_dir).with_suffix("") for p in images}
        if label_dir != image_dir and label_dir.is_dir():
            for label in sorted(label_dir.rglob("*.txt")):
                if label.relative_to(label_dir).with_suffix("") not in stems:
                    skipped.append((str(label), "label file without an image"))
        index[split] = samples
    if "val" not in index:
        index["train"], index["val"] = random_split(index["train"], val_fraction, seed)
    return SourceIndex(index, [str(n) for n in names], skipped)
