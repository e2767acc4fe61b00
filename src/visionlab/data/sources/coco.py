"""COCO JSON instances (detection): `images`, `annotations` with `bbox: [x, y, w, h]`,
`categories`.

Layouts: `annotations/<split>.json` with `images/<split>/`, or each split's folder holding its
images and `_annotations.coco.json` (as common exporters write it; `valid` names val there too);
`splits` maps each split to its annotation file and image folder instead, relative to the root.
An image without `width` and `height` is measured. Category ids need not be contiguous: they
are sorted and mapped to 0..C-1, names kept. A category that only groups others (their
`supercategory`) and labels no object is left out, and reported. Annotations with `iscrowd: 1`
mark crowds of objects that COCO evaluation ignores; they are left out of training and
evaluation here. With `masks=True` (instance segmentation) each object also keeps its
`segmentation` (polygons or RLE); objects without one are reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    clean_boxes,
    find_splits,
    item_path,
    labelled_size,
    random_split,
    require_dir,
    resolve_inside,
)
from visionlab.errors import DataError

# (annotation file, image folder) of a split, formatted with its name: the first that has train
LAYOUTS = (("annotations/{}.json", "images/{}"), ("{}/_annotations.coco.json", "{}"))


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


def _find_layout(root: Path) -> dict[str, dict[str, str]]:
    for annotation_file, image_folder in LAYOUTS:
        found = find_splits(root, annotation_file)
        if "train" in found:
            return {
                split: {
                    "annotations": annotation_file.format(name),
                    "images": image_folder.format(name),
                }
                for split, name in found.items()
            }
    return {}


def _object_categories(files: dict[str, dict], where: Path, skipped: list) -> list[dict]:
    """The train file's categories by id, less those that only group others and label nothing."""
    used = {ann["category_id"] for data in files.values() for ann in data["annotations"]}
    categories = sorted(files["train"]["categories"], key=lambda c: c["id"])
    kept = []
    for category in categories:
        name = category["name"]
        groups_others = any(
            c is not category and c.get("supercategory") == name for c in categories
        )
        if groups_others and category["id"] not in used:
            reason = f"category '{name}' left out: it groups the others and labels no object"
            skipped.append((str(where), reason))
        else:
            kept.append(category)
    return kept


def read_coco(
    root: str | Path,
    splits: dict[str, dict] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    masks: bool = False,
    **_: object,
) -> SourceIndex:
    root = require_dir(root, "COCO")
    splits = splits or _find_layout(root)
    if "train" not in splits:
        raise DataError(
            f"{root}: no train annotations (expected "
            f"{' or '.join(a.format('train') for a, _ in LAYOUTS)}, or data.options.splits)"
        )
    files = {s: _load(resolve_inside(root, spec["annotations"])) for s, spec in splits.items()}
    skipped = []
    categories = _object_categories(files, root / splits["train"]["annotations"], skipped)
    id_to_idx = {c["id"]: i for i, c in enumerate(categories)}

    index = {}
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
            if (size := labelled_size(path, (image.get("width"), image.get("height")))) is None:
                samples.append(DetectionSample.create(path, [], []))
                continue
            width, height = size
            kept, positions, problems = clean_boxes(boxes, labels, width, height, where)
            skipped += problems
            samples.append(
                DetectionSample.create(
                    path,
                    kept,
                    [labels[i] for i in positions],
                    [segmentations[i] for i in positions] if masks else None,
                    (height, width),
                )
            )
        skipped += [(str(ann_path), f"annotations name missing image id {i}") for i in by_image]
        index[split] = samples
    if "val" not in index:
        index["train"], index["val"] = random_split(index["train"], val_fraction, seed)
    return SourceIndex(index, [c["name"] for c in categories], skipped)
