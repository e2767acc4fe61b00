"""COCO JSON instances (detection): `images`, `annotations` with `bbox: [x, y, w, h]`,
`categories`.

Category ids need not be contiguous: they are sorted and mapped to 0..C-1, names kept.
Annotations with `iscrowd: 1` mark crowds of objects that COCO evaluation ignores; they are
left out of training and evaluation here. `splits` maps each split to its annotation file and
image folder, relative to the dataset root. With `masks=True` (instance segmentation) each
object also keeps its `segmentation` (polygons or RLE); objects without one are reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    clean_boxes,
    item_path,
    random_split,
    require_dir,
    resolve_inside,
)
from visionlab.errors import DataError

DEFAULT_SPLITS = {
    "train": {"annotations": "annotations/train.json", "images": "images/train"},
    "val": {"annotations": "annotations/val.json", "images": "images/val"},
    "test": {"annotations": "annotations/test.json", "images": "images/test"},
}


def _load(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"COCO annotation file '{path}' does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{path}: no '{key}' list; is this a COCO instances file?")
    return data


def read_coco(
    root: str | Path,
    splits: dict[str, dict] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    masks: bool = False,
    **_: object,
) -> SourceIndex:
    root = require_dir(root, "COCO")
    splits = splits or {
        k: v for k, v in DEFAULT_SPLITS.items() if (root / v["annotations"]).is_file()
    }
    if "train" not in splits:
        raise DataError(
            f"{root}: no train annotations (expected {DEFAULT_SPLITS['train']['annotations']})"
        )
    files = {s: _load(resolve_inside(root, spec["annotations"])) for s, spec in splits.items()}
    categories = sorted(files["train"]["categories"], key=lambda c: c["id"])
    id_to_idx = {c["id"]: i for i, c in enumerate(categories)}

    index, skipped = {}, []
    for split, data in files.items():
        ann_path = root / splits[split]["annotations"]
        image_dir = resolve_inside(root, splits[split].get("images", "."))
        by_image = defaultdict(list)
        for ann in data["annotations"]:
            by_image[ann["image_id"]].append(ann)
        samples = []
        for image in data["images"]:
            where = f"{ann_path} (image id {image['id']})"
            path = item_path(image_dir, image["file_name"], where, skipped)
            if path is None:
                continue
            boxes, labels, segmentations = [], [], []
            for ann in by_image.pop(image["id"], []):
                if ann.get("iscrowd", 0):
                    continue
                if ann["category_id"] not in id_to_idx:
                    skipped.append((where, f"unknown category id {ann['category_id']}"))
                    continue
                if masks and not ann.get("segmentation"):
                    skipped.append((where, f"annotation {ann.get('id')} has no segmentation"))
                    continue
                x, y, w, h = ann["bbox"]
                boxes.append([x, y, x + w, y + h])
                labels.append(id_to_idx[ann["category_id"]])
                segmentations.append(ann.get("segmentation"))
            kept, positions, problems = clean_boxes(
                boxes, labels, image["width"], image["height"], where
            )
            skipped += problems
            samples.append(
                DetectionSample.create(
                    path,
                    kept,
                    [labels[i] for i in positions],
                    [segmentations[i] for i in positions] if masks else None,
                    (image["height"], image["width"]),
                )
            )
        skipped += [(str(ann_path), f"annotations name missing image id {i}") for i in by_image]
        index[split] = samples
    if "val" not in index:
        index["train"], index["val"] = random_split(index["train"], val_fraction, seed)
    return SourceIndex(index, [c["name"] for c in categories], skipped)
