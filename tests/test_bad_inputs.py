"""The bad-input battery: each broken case is built on the fly, for every source it applies
to, and must come out as a named report entry (item skipped or fixed) or a clear DataError."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionlab.data import (
    ClassificationDataModule,
    DetectionDataModule,
    SegmentationDataModule,
)
from visionlab.errors import DataError

from .conftest import REPO

SIZE = 64
CLASSES = ["cat", "dog"]
DETECTION_FORMATS = ("coco", "voc", "yolo", "csv_boxes")
IMAGE_DIR = {
    "coco": "images/train",
    "voc": "JPEGImages",
    "yolo": "images/train",
    "csv_boxes": "images",
}
GOOD_BOX = ("cat", 8, 8, 40, 40)


def _image(path: Path, size=(SIZE, SIZE), seed=0, mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def write_detection(fmt: str, root: Path, objects: dict[str, list], sizes=None) -> dict[str, Path]:
    """Write `objects` ({file name: [(class, x1, y1, x2, y2), ...]}) as both the train and the
    val split of a `fmt` dataset; a name whose class list is None gets no image file.
    Returns each written image's path by name."""
    sizes = sizes or {}
    paths = {}
    coco = {"images": [], "annotations": [], "categories": []}
    coco["categories"] = [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)]
    csv_rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    for n, (name, boxes) in enumerate(objects.items()):
        width, height = sizes.get(Path(name).stem, (SIZE, SIZE))
        if boxes is not None:
            paths[name] = _image(root / IMAGE_DIR[fmt] / name, (width, height), seed=n)
        boxes = [GOOD_BOX] if boxes is None else boxes
        coco["images"].append({"id": n, "file_name": name, "width": width, "height": height})
        annotation = ET.Element("annotation")
        ET.SubElement(annotation, "filename").text = name
        lines = []
        for k, (cls, x1, y1, x2, y2) in enumerate(boxes):
            category = CLASSES.index(cls) + 1 if cls in CLASSES else 99
            coco["annotations"].append(
                {"id": 100 * n + k, "image_id": n, "category_id": category, "iscrowd": 0}
                | {"bbox": [x1, y1, x2 - x1, y2 - y1]}
            )
            obj = ET.SubElement(annotation, "object")
            ET.SubElement(obj, "name").text = cls
            box = ET.SubElement(obj, "bndbox")
            for key, value in zip(
                ("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2), strict=True
            ):
                ET.SubElement(box, key).text = str(value)
            csv_rows.append(f"images/{name},{width},{height},{cls},{x1},{y1},{x2},{y2}")
            cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            w, h = (x2 - x1) / width, (y2 - y1) / height
            lines.append(f"{category - 1} {cx} {cy} {w} {h}")
        if fmt == "voc":
            (root / "Annotations").mkdir(parents=True, exist_ok=True)
            ET.ElementTree(annotation).write(root / "Annotations" / f"{Path(name).stem}.xml")
        if fmt == "yolo":
            label = root / "labels/train" / f"{Path(name).stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(lines) + "\n")
    if fmt == "coco":
        (root / "annotations").mkdir(parents=True)
        for split in ("train", "val"):
            (root / f"annotations/{split}.json").write_text(json.dumps(coco))
        (root / "images/val").symlink_to(root / "images/train")
    elif fmt == "voc":
        (root / "ImageSets/Main").mkdir(parents=True)
        stems = "\n".join(Path(name).stem for name in objects)
        for split in ("train", "val"):
            (root / f"ImageSets/Main/{split}.txt").write_text(stems + "\n")
    elif fmt == "yolo":
        (root / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames: {CLASSES}\n")
        (root / "images/val").symlink_to(root / "images/train")
        (root / "labels/val").symlink_to(root / "labels/train")
    else:
        for split in ("train", "val"):
            (root / f"{split}.csv").write_text("\n".join(csv_rows) + "\n")
    return paths


def detection_module(fmt: str, root: Path, **kwargs) -> DetectionDataModule:
    options = {"class_names": CLASSES} if fmt == "voc" else {}
    return DetectionDataModule(
        source=fmt, root=str(root), image_size=SIZE, mean=(0.5,) * 3, std=(0.5,) * 3,
        num_workers=0, options=options, **kwargs,
    )  # fmt: skip


def problems(module) -> dict[str, list[str]]:
    """The data check's problems by file (relative to the dataset root), after reading."""
    module.prepare_data()
    found: dict[str, list[str]] = {}
    for where, reason in module.report.problems:
        path = Path(where.split(":")[0].split(" (")[0])
        key = path.relative_to(module.root) if path.is_relative_to(module.root) else path
        found.setdefault(str(key), []).append(reason)
    return found


def train_boxes(module) -> dict[str, np.ndarray]:
    return {s.path.name: s.boxes for s in module.index.split("train")}


# --- unreadable images -----------------------------------------------------------------------
def _break(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"plain text, not pixels")


@pytest.mark.parametrize("how", ["truncated", "not_an_image"])
@pytest.mark.parametrize("fmt", DETECTION_FORMATS)
def test_unreadable_detection_image_is_named_and_skipped(tmp_path, fmt, how):
    paths = write_detection(fmt, tmp_path, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
    _break(paths["b.png"], how)
    module = detection_module(fmt, tmp_path)
    assert "cannot read image" in problems(module)[f"{IMAGE_DIR[fmt]}/b.png"][0]
    assert list(train_boxes(module)) == ["a.png"]
    assert module.report.splits["train"]["usable"] == 1
    with pytest.raises(DataError, match=r"b\.png: skipped: cannot read image"):
        _ = detection_module(fmt, tmp_path, on_error="raise").index


@pytest.mark.parametrize("source", ["imagefolder", "csv"])
def test_unreadable_classification_image_is_named_and_skipped(tmp_path, source):
    for split in ("train", "val"):
        for i, cls in enumerate(CLASSES * 2):
            _image(tmp_path / split / cls / f"{i}.jpg", seed=i)
    (tmp_path / "train/dog/3.jpg").write_bytes((tmp_path / "train/dog/3.jpg").read_bytes()[:300])
    if source == "csv":
        for split in ("train", "val"):
            rows = [
                f"{p.relative_to(tmp_path)},{p.parent.name}"
                for p in (tmp_path / split).rglob("*.jpg")
            ]
            (tmp_path / f"{split}.csv").write_text("path,label\n" + "\n".join(sorted(rows)) + "\n")
    module = ClassificationDataModule(
        source=source, root=str(tmp_path), image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3
    )
    assert "cannot read image" in problems(module)["train/dog/3.jpg"][0]
    assert module.report.splits["train"]["usable"] == 3
    assert module.report.splits["train"]["class_counts"] == {"cat": 2, "dog": 1}


def test_a_dataset_without_usable_images_fails_with_a_clear_message(tmp_path):
    paths = write_detection("coco", tmp_path, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
    for path in paths.values():
        _break(path, "not_an_image")
    with pytest.raises(DataError, match="none of the 2 'train' images is usable"):
        detection_module("coco", tmp_path).prepare_data()


def test_entry_point_reports_bad_data_without_a_traceback(tmp_path):
    for cls in CLASSES:
        (tmp_path / "train" / cls).mkdir(parents=True)
        (tmp_path / "train" / cls / "x.png").write_text("not an image")
    run = subprocess.run(
        [sys.executable, "train.py", "data=imagefolder", f"data.root={tmp_path}",
         f"paths.log_dir={tmp_path / 'logs'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1
    assert "Traceback" not in output
    assert "cannot read image" in output and "usable" in output


# --- image modes and orientation ---------------------------------------------------------------
def test_gif_palette_rgba_grayscale_and_16_bit_images_are_converted(tmp_path):
    def save(name: str, make) -> None:
        path = tmp_path / "train" / "cat" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make().save(path)

    save("rgba.png", lambda: Image.new("RGBA", (20, 10), (1, 2, 3, 4)))
    save("gray.png", lambda: Image.new("L", (20, 10), 7))
    save("palette.png", lambda: Image.new("P", (20, 10), 3))
    save("anim.gif", lambda: Image.new("P", (20, 10), 5))
    save("deep.png", lambda: Image.fromarray(np.full((10, 20), 40000, np.uint16)))
    _image(tmp_path / "train" / "dog" / "rgb.png", (20, 10))
    module = ClassificationDataModule(
        source="imagefolder", root=str(tmp_path), image_size=16, mean=(0.5,) * 3,
        std=(0.5,) * 3, options={"val_fraction": 0.2},
    )  # fmt: skip
    assert problems(module) == {}
    module.setup("fit")
    images = [
        module.datasets[s][i][0] for s in module.datasets for i in range(len(module.datasets[s]))
    ]
    assert len(images) == 6 and all(image.shape == (3, 16, 16) for image in images)


@pytest.mark.parametrize("fmt", ["voc", "yolo"])
def test_exif_orientation_applies_to_image_and_boxes_alike(tmp_path, fmt):
    """A file stored 40x20 with EXIF orientation 6 is shown 20x40; boxes are in that frame."""
    box = ("cat", 2, 22, 18, 38)  # inside 20x40, outside the stored 40x20
    objects = {"a.jpg": [box], "b.jpg": [("dog", *box[1:])]}
    write_detection(fmt, tmp_path, objects, dict.fromkeys("ab", (20, 40)))
    for name in ("a.jpg", "b.jpg"):
        path = tmp_path / ("JPEGImages" if fmt == "voc" else "images/train") / name
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.new("RGB", (40, 20), (90, 20, 20)).save(path, exif=exif.tobytes())
    if fmt == "voc":  # no <size>: the reader takes it from the image
        for xml in (tmp_path / "Annotations").glob("*.xml"):
            assert "<size>" not in xml.read_text()
    module = detection_module(fmt, tmp_path)
    assert problems(module) == {}, "the box must not be clipped to the stored frame"
    assert module.report.splits["train"]["width"] == [20, 20]
    assert module.report.splits["train"]["height"] == [40, 40]
    np.testing.assert_allclose(train_boxes(module)["a.jpg"], [box[1:]], atol=1e-4)


# --- boxes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", DETECTION_FORMATS)
def test_bad_boxes_are_clipped_or_dropped_and_reported(tmp_path, fmt):
    boxes = [
        GOOD_BOX,
        ("dog", 50, 50, 80, 60),  # partly outside: clipped
        ("cat", 10, 10, 10, 30),  # zero width
        ("cat", 30, 30, 20, 20),  # negative size
        ("dog", 70, 70, 90, 90),  # wholly outside
        GOOD_BOX,  # duplicate
    ]
    if fmt != "yolo":  # YOLO lines hold no NaN-able corner
        boxes.append(("dog", math.nan, 5, 20, 20))
    write_detection(fmt, tmp_path, {"a.png": boxes})
    module = detection_module(fmt, tmp_path)
    reasons = problems(module)
    key = {"coco": "annotations/train.json", "voc": "Annotations/a.xml"}
    key |= {"yolo": "labels/train/a.txt", "csv_boxes": "train.csv"}
    found = " | ".join(reasons[key[fmt]])
    assert found.count("clipped to the image") == 1
    assert found.count("dropped: degenerate or outside the image") == len(boxes) - 3
    assert found.count("dropped: duplicate") == 1
    np.testing.assert_allclose(
        train_boxes(module)["a.png"], [GOOD_BOX[1:], (50, 50, SIZE, 60)], atol=1e-3
    )


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])  # CSV classes are what it names
def test_unknown_classes_are_reported(tmp_path, fmt):
    write_detection(fmt, tmp_path, {"a.png": [GOOD_BOX, ("zebra", 1, 1, 9, 9)]})
    module = detection_module(fmt, tmp_path)
    found = " | ".join(r for reasons in problems(module).values() for r in reasons)
    expected = {
        "coco": "unknown category id 99",
        "voc": "unknown class 'zebra'",
        "yolo": "class 98 is not in 0..1",
    }
    assert expected[fmt] in found
    assert train_boxes(module)["a.png"].shape == (1, 4)


@pytest.mark.parametrize("fmt", ["coco", "voc", "csv_boxes"])
def test_annotation_of_a_missing_image_is_reported(tmp_path, fmt):
    write_detection(fmt, tmp_path, {"a.png": [GOOD_BOX], "gone.png": None})
    module = detection_module(fmt, tmp_path)
    found = " | ".join(r for reasons in problems(module).values() for r in reasons)
    assert "image 'gone.png' not found" in found.replace("images/gone.png", "gone.png")
    assert list(train_boxes(module)) == ["a.png"]


def test_yolo_orphan_label_is_reported_and_unlabelled_image_is_background(tmp_path):
    write_detection("yolo", tmp_path, {"a.png": [GOOD_BOX, ("dog", 40, 40, 60, 60)], "b.png": []})
    (tmp_path / "labels/train/b.txt").unlink()
    (tmp_path / "labels/train/ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    module = detection_module("yolo", tmp_path)
    assert problems(module) == {
        "labels/train/ghost.txt": ["label file without an image"],
        "labels/val/ghost.txt": ["label file without an image"],
    }
    assert module.report.splits["train"]["empty"] == 1
    assert train_boxes(module)["b.png"].shape == (0, 4)


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd"])
@pytest.mark.parametrize("fmt", ["coco", "voc", "csv_boxes", "csv"])
def test_paths_that_escape_the_dataset_root_are_refused(tmp_path, fmt, bad):
    (tmp_path / "outside.png").write_bytes(_image(tmp_path / "x.png").read_bytes())
    root = tmp_path / "data"
    if fmt == "csv":
        _image(root / "ok.png")
        rows = f"path,label\nok.png,cat\nok.png,dog\n{bad},cat\n"
        for split in ("train", "val"):
            (root / f"{split}.csv").write_text(rows)
        module = ClassificationDataModule(
            source="csv", root=str(root), image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3
        )
    else:
        write_detection(fmt, root, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
        for path in [*root.rglob("*.json"), *root.rglob("*.xml"), *root.rglob("*.csv")]:
            path.write_text(path.read_text().replace("images/b.png", bad).replace("b.png", bad))
        module = detection_module(fmt, root)
    found = " | ".join(r for reasons in problems(module).values() for r in reasons)
    assert "refused" in found and ("outside the dataset root" in found or "absolute" in found)
    assert all(bad.strip("./") not in str(s.path) for s in module.index.split("train"))


def test_broken_label_files_are_reported_per_file(tmp_path):
    write_detection("voc", tmp_path, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
    (tmp_path / "Annotations/b.xml").write_text("<annotation><object>")
    module = detection_module("voc", tmp_path)
    assert "not valid XML" in problems(module)["Annotations/b.xml"][0]
    assert list(train_boxes(module)) == ["a.png"]


def test_annotated_size_that_differs_from_the_image_is_reported(tmp_path):
    write_detection("coco", tmp_path, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
    _image(tmp_path / "images/train/b.png", (SIZE, SIZE + 8))
    reasons = problems(detection_module("coco", tmp_path))["images/train/b.png"]
    assert "the annotations say 64x64, the image is 64x72" in reasons[0]


# --- masks ------------------------------------------------------------------------------------
def _mask_dataset(root: Path, names, size=(32, 24)) -> None:
    for split in ("train", "val"):
        for i, name in enumerate(names):
            _image(root / "images" / split / f"{name}.png", size, seed=i)
            mask = np.zeros(size[::-1], np.uint8)
            mask[: size[1] // 2] = 1
            Image.fromarray(mask).save(_image(root / "masks" / split / f"{name}.png", size))


def segmentation_module(root: Path, **options) -> SegmentationDataModule:
    return SegmentationDataModule(
        source="masks", root=str(root), image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3,
        num_workers=0, options={"classes": ["bg", "road", "car"], **options},
    )  # fmt: skip


@pytest.mark.parametrize("how", ["truncated", "not_an_image"])
def test_unreadable_image_of_a_mask_dataset_is_named_and_skipped(tmp_path, how):
    _mask_dataset(tmp_path, ["a", "b"])
    _break(tmp_path / "images/train/b.png", how)
    module = segmentation_module(tmp_path)
    assert "cannot read image" in problems(module)["images/train/b.png"][0]
    assert module.report.splits["train"]["usable"] == 1


def test_mask_of_another_size_is_named_with_its_image_and_skipped(tmp_path):
    _mask_dataset(tmp_path, ["a", "b"])
    Image.fromarray(np.zeros((20, 32), np.uint8)).save(tmp_path / "masks/train/b.png")
    module = segmentation_module(tmp_path)
    reason = problems(module)["images/train/b.png"]
    assert reason == ["skipped: its mask b.png is 32x20, the image 32x24"]
    assert module.report.splits["train"]["usable"] == 1


def test_mask_values_outside_the_classes_are_named_and_skipped(tmp_path):
    _mask_dataset(tmp_path, ["a", "b"])
    Image.fromarray(np.full((24, 32), 7, np.uint8)).save(tmp_path / "masks/train/b.png")
    reasons = problems(segmentation_module(tmp_path))["images/train/b.png"]
    assert "mask values [7] are neither class ids 0..2 nor the ignore index 255" in reasons[0]


def test_segmentation_report_counts_pixels_per_class(tmp_path):
    _mask_dataset(tmp_path, ["a", "b"])
    module = segmentation_module(tmp_path)
    absent = "no pixels of class(es) car in the train split (masks that store a class as the "
    assert problems(module) == {".": [absent + "ignore value need data.options.remap)"]}
    assert module.report.counts == "pixels"
    assert module.report.splits["train"]["class_counts"] == {"bg": 768, "road": 768, "car": 0}


# --- the report and its cache -------------------------------------------------------------------
def test_report_is_cached_on_file_size_and_mtime(tmp_path):
    paths = write_detection("coco", tmp_path, {"a.png": [GOOD_BOX], "b.png": [GOOD_BOX]})
    first = detection_module("coco", tmp_path)
    first.prepare_data()
    assert first.report.cached == 0
    second = detection_module("coco", tmp_path)
    second.prepare_data()
    assert second.report.cached == 4  # 2 images x (train, val)
    _break(paths["b.png"], "truncated")
    third = detection_module("coco", tmp_path)
    assert "cannot read image" in problems(third)["images/train/b.png"][0]
    assert third.report.cached == 2


def test_cached_mask_results_follow_the_decoder_settings(tmp_path):
    """The same unchanged masks checked again with another remap are decoded again."""
    _mask_dataset(tmp_path, ["a", "b"])
    first = segmentation_module(tmp_path)
    first.prepare_data()
    assert first.report.splits["train"]["class_counts"] == {"bg": 768, "road": 768, "car": 0}
    remapped = segmentation_module(tmp_path, remap={1: 2})
    remapped.prepare_data()
    assert remapped.report.cached == 4  # the images; the masks are decoded again
    assert remapped.report.splits["train"]["class_counts"] == {"bg": 768, "road": 0, "car": 768}


def test_training_run_writes_the_report(make_cfg, tmp_path):
    from visionlab.cli.train import train

    cfg = make_cfg("trainer.max_epochs=1", "test=false", "trainer.limit_train_batches=1")
    train(cfg)
    report = json.loads((Path(cfg.paths.output_dir) / "data_report.json").read_text())
    assert report["source"] == "shapes" and report["splits"]["train"]["usable"] == 48
    assert report["problems"] == []
