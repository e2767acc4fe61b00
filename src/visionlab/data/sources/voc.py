"""Pascal VOC XML: one `<annotation>` file per image.

Layouts: `Annotations/` (XML) and `JPEGImages/` folders (or `annotations/` and `images/`, or
the folders the options name), split by the lists `ImageSets/Main/<split>.txt` (image ids, one
per line) when present, else at random (seeded); or one folder per split (`train/`, `val/` or
`valid/`, `test/`) holding each image with its XML, as common exporters write them. VOC
coordinates are 1-based inclusive pixels and are converted to 0-based continuous xyxy (xmin-1,
ymin-1, xmax, ymax). An image size missing from the XML or written as 0 is read from the image.
Objects flagged `difficult` are left out unless `keep_difficult=true`.
"""

from __future__ import annotations

import glob
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from visionlab.data.samples import DetectionSample, SourceIndex
from visionlab.data.sources.common import (
    clean_boxes,
    find_splits,
    is_image_file,
    item_path,
    labelled_size,
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


def _folders(root: Path, images: str, annotations: str) -> dict[str | None, tuple[Path, Path]]:
    """(annotation folder, image folder) per split folder, or under None for one pool."""
    for ann, img in ((annotations, images), ("annotations", "images")):
        if (ann_dir := resolve_inside(root, ann)).is_dir():
            if not any(ann_dir.glob("*.xml")):
                raise DataError(f"{ann_dir}: no .xml annotation files")
            return {None: (ann_dir, resolve_inside(root, img))}
    per_split = {s: root / name for s, name in find_splits(root).items()}
    per_split = {s: folder for s, folder in per_split.items() if any(folder.glob("*.xml"))}
    if "train" not in per_split:
        raise DataError(
            f"{root}: no '{annotations}' folder and no train/ folder of XML files beside their "
            "images; set data.options.annotations and data.options.images to the folders"
        )
    return {s: (folder, folder) for s, folder in per_split.items()}


def _image_path(image_dir: Path, filename: str, xml_path: Path, skipped: list) -> Path | None:
    """The image the XML names, or, where a bare file name names none, the one named as the
    XML file (reported)."""
    if Path(filename).name == filename and not (image_dir / filename).is_file():
        pattern = glob.escape(xml_path.stem) + ".*"
        if namesakes := sorted(p for p in image_dir.glob(pattern) if is_image_file(p)):
            found = namesakes[0].name
            skipped.append((str(xml_path), f"image '{filename}' not found; read '{found}'"))
            return namesakes[0]
    return item_path(image_dir, filename, str(xml_path), skipped)


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
    folders = _folders(root, images, annotations)
    parsed, skipped = {}, []
    for split, (ann_dir, _) in folders.items():
        for xml_path in sorted(ann_dir.glob("*.xml")):
            try:
                parsed[split, xml_path.stem] = (xml_path, *_parse(xml_path))
            except DataError as err:
                skipped.append((str(xml_path), str(err).removeprefix(f"{xml_path}: ")))
    names = class_names or sorted_class_names(
        name for _, _, _, objects in parsed.values() for name, _, _ in objects
    )
    class_to_idx = {name: i for i, name in enumerate(names)}

    samples = {}
    for (split, stem), (xml_path, filename, wh, objects) in parsed.items():
        path = _image_path(folders[split][1], filename, xml_path, skipped)
        if path is None:
            continue
        boxes, labels = [], []
        for name, coords, difficult in objects:
            if name not in class_to_idx:
                skipped.append((str(xml_path), f"unknown class '{name}'"))
            elif not difficult or keep_difficult:
                boxes.append(coords)
                labels.append(class_to_idx[name])
        if (size := labelled_size(path, wh)) is None:
            samples[split, stem] = DetectionSample.create(path, [], [])
            continue
        width, height = size
        kept, positions, problems = clean_boxes(boxes, labels, width, height, str(xml_path))
        skipped += problems
        samples[split, stem] = DetectionSample.create(path, kept, np.asarray(labels)[positions])

    if None not in folders:
        splits = {s: [v for (split, _), v in samples.items() if split == s] for s in folders}
    elif lists := find_splits(root / split_lists, "{}.txt"):
        if "train" not in lists:
            raise DataError(f"{root / split_lists}: found {sorted(lists)} lists but no train.txt")
        ids = {s: (root / split_lists / f"{n}.txt").read_text().split() for s, n in lists.items()}
        splits = {s: [samples[None, i] for i in ids[s] if (None, i) in samples] for s in ids}
    else:
        splits = {"train": list(samples.values())}
    if "val" not in splits:
        splits["train"], splits["val"] = random_split(splits["train"], val_fraction, seed)
    return SourceIndex(splits, list(names), skipped)
