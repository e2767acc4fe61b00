"""Pascal VOC XML: one `<annotation>` file per image.

Layout: `annotations/` (XML) and `images/` folders; split lists `ImageSets/Main/<split>.txt`
(image ids, one per line) when present, else a seeded random split. VOC coordinates are 1-based
inclusive pixels and are converted to 0-based continuous xyxy (xmin-1, ymin-1, xmax, ymax).
Objects flagged `difficult` are left out unless `keep_difficult=true`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from visionlab.data.io import image_size
from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    SPLITS,
    clean_boxes,
    item_path,
    random_split,
    require_dir,
    resolve_inside,
    sorted_class_names,
)
from visionlab.errors import DataError


def _parse(xml_path: Path) -> tuple[str, tuple[float, float] | None, list[tuple[str, list, bool]]]:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DataError(f"{xml_path}: not valid XML ({err})") from err
    try:
        size = root.find("size")
        wh = None
        if size is not None and size.findtext("width") and size.findtext("height"):
            wh = (float(size.findtext("width")), float(size.findtext("height")))
        objects = []
        for obj in root.iter("object"):
            box = obj.find("bndbox")
            if box is None:
                raise DataError(f"{xml_path}: an <object> without <bndbox>")
            coords = [float(box.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax")]
            coords[0] -= 1
            coords[1] -= 1
            name = obj.findtext("name", "").strip()
            objects.append((name, coords, obj.findtext("difficult") == "1"))
    except ValueError as err:
        raise DataError(f"{xml_path}: a size or box value is not a number ({err})") from err
    return root.findtext("filename", xml_path.stem + ".jpg"), wh, objects


def read_voc(
    root: str | Path,
    images: str = "JPEGImages",
    annotations: str = "Annotations",
    split_lists: str = "ImageSets/Main",
    class_names: list[str] | None = None,
    keep_difficult: bool = False,
    val_fraction: float = 0.2,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    root = require_dir(root, "Pascal VOC")
    ann_dir = require_dir(resolve_inside(root, annotations), "VOC annotations")
    image_dir = resolve_inside(root, images)
    xml_files = sorted(ann_dir.glob("*.xml"))
    if not xml_files:
        raise DataError(f"{ann_dir}: no .xml annotation files")
    parsed, skipped = {}, []
    for xml_path in xml_files:
        try:
            parsed[xml_path.stem] = (xml_path, *_parse(xml_path))
        except DataError as err:
            skipped.append((str(xml_path), str(err).removeprefix(f"{xml_path}: ")))
    names = class_names or sorted_class_names(
        name for _, _, _, objects in parsed.values() for name, _, _ in objects
    )
    class_to_idx = {name: i for i, name in enumerate(names)}

    samples = {}
    for stem, (xml_path, filename, wh, objects) in parsed.items():
        path = item_path(image_dir, filename, str(xml_path), skipped)
        if path is None:
            continue
        boxes, labels = [], []
        for name, coords, difficult in objects:
            if name not in class_to_idx:
                skipped.append((str(xml_path), f"unknown class '{name}'"))
            elif not difficult or keep_difficult:
                boxes.append(coords)
                labels.append(class_to_idx[name])
        try:
            width, height = wh or image_size(path)
        except DataError:  # unreadable: left to the data check, which reports and skips it
            samples[stem] = DetectionSample.create(path, [], [])
            continue
        kept, positions, problems = clean_boxes(boxes, labels, width, height, str(xml_path))
        skipped += problems
        samples[stem] = DetectionSample.create(path, kept, np.asarray(labels)[positions])

    lists = {
        s: root / split_lists / f"{s}.txt"
        for s in SPLITS
        if (root / split_lists / f"{s}.txt").is_file()
    }
    if "train" in lists:
        splits = {
            s: [samples[i] for i in f.read_text().split() if i in samples] for s, f in lists.items()
        }
    else:
        splits = {"train": list(samples.values())}
    if "val" not in splits:
        splits["train"], splits["val"] = random_split(splits["train"], val_fraction, seed)
    return SourceIndex(splits, list(names), skipped)
