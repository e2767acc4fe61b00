"""Dataset layouts as exporters and public datasets ship them: each is rebuilt from a standard
layout and must read to the same samples, with what was adapted in the report."""

from __future__ import annotations

import csv
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionlab.data.shapes import write_segmentation
from visionlab.data.sources import (
    read_coco,
    read_csv_boxes,
    read_csv_labels,
    read_imagefolder,
    read_mask_folders,
    read_voc,
    read_yolo,
)
from visionlab.errors import DataError


def objects(index, split: str) -> dict[str, tuple]:
    """Each image's boxes and labels, by file name."""
    return {
        s.path.name: (np.round(s.boxes, 3).tolist(), s.labels.tolist()) for s in index.split(split)
    }


def assert_same_samples(index, reference, splits=("train", "val")) -> None:
    assert index.class_names == reference.class_names
    for split in splits:
        assert objects(index, split) == objects(reference, split), split


def test_split_folders_named_valid_are_val(tmp_path, imagefolder_root, csv_root):
    shutil.copytree(imagefolder_root / "train", tmp_path / "folders/train")
    shutil.copytree(imagefolder_root / "val", tmp_path / "folders/valid")
    index = read_imagefolder(tmp_path / "folders")
    reference = read_imagefolder(imagefolder_root)
    assert [s.path.relative_to(tmp_path / "folders/valid") for s in index.split("val")] == [
        s.path.relative_to(imagefolder_root / "val") for s in reference.split("val")
    ]

    shutil.copytree(csv_root, tmp_path / "csv", symlinks=True)
    (tmp_path / "csv/val.csv").rename(tmp_path / "csv/valid.csv")
    assert len(read_csv_labels(tmp_path / "csv").split("val")) == len(reference.split("val"))

    write_segmentation(tmp_path / "masks", {"train": 3, "validation": 2}, image_size=32, seed=0)
    index = read_mask_folders(tmp_path / "masks", classes=["background", "a", "b", "c"])
    assert [s.path.parent.name for s in index.split("val")] == ["validation"] * 2


def test_unlabelled_images_beside_the_class_folders_are_reported(tmp_path, imagefolder_root):
    """A test folder of bare images, as competitions ship them, is named, not read."""
    shutil.copytree(imagefolder_root / "train", tmp_path / "train")
    shutil.copytree(imagefolder_root / "val" / "circle", tmp_path / "test")
    index = read_imagefolder(tmp_path)
    loose = len(list((tmp_path / "test").iterdir()))
    assert index.split("test") == [] and loose > 0
    reason = f"{loose} image(s) outside class folders (unlabelled) left out"
    assert index.skipped == [(str(tmp_path / "test"), reason)]


def test_masks_named_with_a_suffix_in_gif_and_jpeg(tmp_path):
    """`<name>_mask.gif` pairs as `<name>.png` does; a JPEG mask is named as such."""
    classes = ["background", "a", "b", "c"]
    write_segmentation(tmp_path / "standard", {"train": 4, "val": 2}, image_size=32, seed=0)
    shutil.copytree(tmp_path / "standard/images", tmp_path / "exported/images")
    for mask in (tmp_path / "standard/masks").rglob("*.png"):
        target = tmp_path / "exported/masks" / mask.parent.name / f"{mask.stem}_mask.gif"
        target.parent.mkdir(parents=True, exist_ok=True)
        gif = Image.open(mask).convert("L")
        gif = Image.frombytes("P", gif.size, gif.tobytes())  # the values as palette indices
        gif.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
        gif.save(target, optimize=False)
    jpeg = next((tmp_path / "exported/masks/val").glob("*.gif"))
    Image.open(jpeg).convert("L").save(jpeg.with_suffix(".jpg"))
    jpeg.unlink()

    index = read_mask_folders(tmp_path / "exported", classes=classes)
    reference = read_mask_folders(tmp_path / "standard", classes=classes)
    assert [s.path.name for s in index.split("train")] == [
        s.path.name for s in reference.split("train")
    ]
    for sample, same in zip(index.split("train"), reference.split("train"), strict=True):
        assert (
            index.mask_decoder(sample.mask_path) == reference.mask_decoder(same.mask_path)
        ).all()
    image = tmp_path / "exported/images/val" / f"{jpeg.stem.removesuffix('_mask')}.png"
    ((path, reason),) = index.skipped
    assert path == str(image) and reason.startswith(f"its mask {jpeg.stem}.jpg is a JPEG")


def test_coco_with_each_split_beside_its_images(tmp_path, detection_roots):
    """Each split folder holds its images and `_annotations.coco.json`, val is `valid`, and a
    category id 0 groups the real ones (its name is their supercategory) and labels nothing."""
    standard = detection_roots["coco"]
    for split, folder in (("train", "train"), ("val", "valid")):
        shutil.copytree(standard / "images" / split, tmp_path / folder)
        data = json.loads((standard / f"annotations/{split}.json").read_text())
        for category in data["categories"]:
            category["supercategory"] = "shapes"
        data["categories"].insert(0, {"id": 0, "name": "shapes", "supercategory": "none"})
        (tmp_path / folder / "_annotations.coco.json").write_text(json.dumps(data))

    index = read_coco(tmp_path)
    assert_same_samples(index, read_coco(standard))
    assert (
        str(tmp_path / "train/_annotations.coco.json"),
        "category 'shapes' left out: it groups the others and labels no object",
    ) in index.skipped


def test_coco_images_without_a_stated_size_are_measured(tmp_path, detection_roots):
    standard = detection_roots["coco"]
    shutil.copytree(standard, tmp_path / "coco", symlinks=True)
    for split in ("train", "val"):
        path = tmp_path / f"coco/annotations/{split}.json"
        data = json.loads(path.read_text())
        for image in data["images"]:
            del image["width"], image["height"]
        path.write_text(json.dumps(data))
    index = read_coco(tmp_path / "coco")
    assert_same_samples(index, read_coco(standard))
    assert index.skipped == []


def test_coco_keeps_an_unused_category_that_groups_nothing(tmp_path, detection_roots):
    standard = detection_roots["coco"]
    shutil.copytree(standard, tmp_path / "coco", symlinks=True)
    train = tmp_path / "coco/annotations/train.json"
    data = json.loads(train.read_text())
    data["categories"].append({"id": 9, "name": "hexagon", "supercategory": "shape"})
    train.write_text(json.dumps(data))
    assert read_coco(tmp_path / "coco").class_names[-1] == "hexagon"


def test_yolo_folders_written_one_level_up(tmp_path, detection_roots):
    """`train: ../train/images` as some exporters write it, read under the dataset root."""
    standard = detection_roots["yolo"]
    for split, folder in (("train", "train"), ("val", "valid")):
        for kind in ("images", "labels"):
            shutil.copytree(standard / kind / split, tmp_path / folder / kind)
    (tmp_path / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 3\n"
        "names: ['circle', 'square', 'triangle']\n"
    )
    assert_same_samples(read_yolo(tmp_path), read_yolo(standard))


def test_yolo_polygon_labels_give_the_box_around_them(tmp_path, detection_roots):
    """Segmentation-style lines `class x1 y1 x2 y2 ...` as exporters write them for polygons."""
    standard = detection_roots["yolo"]
    shutil.copytree(standard, tmp_path / "yolo", symlinks=True)
    label = sorted((tmp_path / "yolo/labels/train").glob("*.txt"))[0]
    lines = []
    for line in label.read_text().split("\n")[:-1]:
        cls, cx, cy, w, h = line.split()
        x1, y1 = float(cx) - float(w) / 2, float(cy) - float(h) / 2
        x2, y2 = float(cx) + float(w) / 2, float(cy) + float(h) / 2
        lines.append(f"{cls} {x1} {cy} {cx} {y1} {x2} {cy} {cx} {y2}")  # a diamond in the box
    label.write_text("\n".join([*lines, "1 0.1 0.2 0.3 0.4 0.5"]) + "\n")
    index = read_yolo(tmp_path / "yolo")
    assert_same_samples(index, read_yolo(standard))
    ((where, problem),) = index.skipped
    assert where == str(label) and problem.startswith(f"line {len(lines) + 1}: expected 'class cx")


@pytest.mark.parametrize("path", ["../datasets/shapes", "/data/shapes"])
def test_yolo_path_written_for_another_machine_is_not_used(tmp_path, detection_roots, path):
    standard = detection_roots["yolo"]
    shutil.copytree(standard, tmp_path / "yolo", symlinks=True)
    spec = tmp_path / "yolo/data.yaml"
    spec.write_text(spec.read_text().replace("path: .", f"path: {path}"))
    index = read_yolo(tmp_path / "yolo")
    assert_same_samples(index, read_yolo(standard))
    assert index.skipped == [(str(spec), f"path '{path}' is outside {tmp_path / 'yolo'}; not used")]


@pytest.mark.parametrize(
    ("val", "message"),
    [
        ("valid/images", "the val image folder '.*valid/images' does not exist"),
        ("[images/val, images/train]", "is not an image folder"),
        ("val.txt", "is not an image folder"),
    ],
)
def test_yolo_names_a_folder_it_cannot_read(tmp_path, detection_roots, val, message):
    shutil.copytree(detection_roots["yolo"], tmp_path / "yolo", symlinks=True)
    (tmp_path / "yolo/data.yaml").write_text(f"train: images/train\nval: {val}\nnames: [a, b, c]\n")
    with pytest.raises(DataError, match=message):
        read_yolo(tmp_path / "yolo")


def test_csv_boxes_with_each_split_beside_its_images(tmp_path, detection_roots):
    """Each split folder holds its images and `_annotations.csv` of bare file names."""
    standard = detection_roots["csv_boxes"]
    for split, folder in (("train", "train"), ("val", "valid")):
        (tmp_path / folder).mkdir()
        with (standard / f"{split}.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            shutil.copy(standard / row["filename"], tmp_path / folder)
            row["filename"] = Path(row["filename"]).name
        with (tmp_path / folder / "_annotations.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    assert_same_samples(read_csv_boxes(tmp_path), read_csv_boxes(standard))


def voc_copy(standard: Path, target: Path, folders: dict[str, tuple[str, str]]) -> None:
    """Copy each split's XML and images of a standard VOC dataset into the (annotation folder,
    image folder) named for it."""
    for split, (xml_folder, image_folder) in folders.items():
        (target / xml_folder).mkdir(parents=True, exist_ok=True)
        (target / image_folder).mkdir(parents=True, exist_ok=True)
        for stem in (standard / f"ImageSets/Main/{split}.txt").read_text().split():
            shutil.copy(standard / f"Annotations/{stem}.xml", target / xml_folder)
            shutil.copy(standard / f"JPEGImages/{stem}.png", target / image_folder)


def test_voc_with_each_split_beside_its_images(tmp_path, detection_roots):
    standard = detection_roots["voc"]
    voc_copy(standard, tmp_path, {"train": ("train", "train"), "val": ("valid", "valid")})
    assert_same_samples(read_voc(tmp_path), read_voc(standard))


def test_voc_in_lower_case_folders_with_a_zero_size_and_a_renamed_image(tmp_path, detection_roots):
    """`annotations/` + `images/`; one XML says width 0, another names a .jpg that is a .png."""
    standard = detection_roots["voc"]
    voc_copy(standard, tmp_path, {s: ("annotations", "images") for s in ("train", "val")})
    xml_files = sorted((tmp_path / "annotations").glob("*.xml"))
    zero, renamed = (ET.parse(path) for path in xml_files[:2])
    zero.find("size/width").text = "0"
    renamed.find("filename").text = xml_files[1].stem + ".jpg"
    zero.write(xml_files[0])
    renamed.write(xml_files[1])

    index = read_voc(tmp_path)
    reference = read_voc(standard)
    everything = {**objects(index, "train"), **objects(index, "val")}
    assert everything == {**objects(reference, "train"), **objects(reference, "val")}
    stem = xml_files[1].stem
    assert index.skipped == [
        (str(xml_files[1]), f"image '{stem}.jpg' not found; read '{stem}.png'")
    ]


def test_voc_split_lists_without_train_are_refused(tmp_path, detection_roots):
    shutil.copytree(detection_roots["voc"], tmp_path / "voc")
    (tmp_path / "voc/ImageSets/Main/train.txt").unlink()
    with pytest.raises(DataError, match="found \\['val'\\] lists but no train.txt"):
        read_voc(tmp_path / "voc")


def test_voc_without_annotations_names_the_options(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="set data.options.annotations and data.options.images"):
        read_voc(tmp_path)
