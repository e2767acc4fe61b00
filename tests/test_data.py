"""Source readers, the shapes generator, transforms and the data module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionlab.data import ClassificationDataModule
from visionlab.data.io import load_rgb
from visionlab.data.shapes import ensure_generated
from visionlab.data.sources import read_csv_labels, read_imagefolder
from visionlab.errors import DataError


def test_imagefolder_splits_and_classes(imagefolder_root):
    index = read_imagefolder(imagefolder_root)
    assert index.class_names == ["circle", "square", "triangle"]
    assert len(index.split("train")) == 12 and len(index.split("val")) == 6
    assert {s.label for s in index.split("train")} == {0, 1, 2}
    assert all(s.path.parent.name == index.class_names[s.label] for s in index.split("val"))


def test_imagefolder_without_splits_is_split_at_random(imagefolder_root):
    index = read_imagefolder(imagefolder_root / "train", val_fraction=0.25, seed=3)
    assert len(index.split("train")) == 9 and len(index.split("val")) == 3
    again = read_imagefolder(imagefolder_root / "train", val_fraction=0.25, seed=3)
    assert [s.path for s in again.split("val")] == [s.path for s in index.split("val")]


def test_imagefolder_val_class_missing_from_train(tmp_path, imagefolder_root):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "val" / "dog").mkdir(parents=True)
    with pytest.raises(DataError, match="class 'dog' does not appear in the train split"):
        read_imagefolder(tmp_path)


def test_csv_reader(csv_root, imagefolder_root):
    index = read_csv_labels(csv_root)
    reference = read_imagefolder(imagefolder_root)
    assert index.class_names == reference.class_names
    assert len(index.split("train")) == 12 and len(index.split("val")) == 6


def test_csv_reports_missing_images_and_unknown_classes(tmp_path, csv_root):
    rows = (csv_root / "train.csv").read_text().splitlines()
    (tmp_path / "images").symlink_to(csv_root / "images")
    (tmp_path / "train.csv").write_text("\n".join([*rows, "images/nope.png,circle"]) + "\n")
    val = (csv_root / "val.csv").read_text().splitlines()
    (tmp_path / "val.csv").write_text("\n".join([*val, f"{val[1].split(',')[0]},hexagon"]) + "\n")
    index = read_csv_labels(tmp_path)
    reasons = dict(index.skipped)
    assert (
        reasons[f"{tmp_path / 'train.csv'}:{len(rows) + 1}"] == "image 'images/nope.png' not found"
    )
    assert "hexagon" in reasons[f"{tmp_path / 'val.csv'}:{len(val) + 1}"]
    assert len(index.split("train")) == 12


def test_shapes_generation_is_deterministic(tmp_path):
    counts = {"train": 6, "val": 3}
    first = ensure_generated(tmp_path / "a", counts, 48, seed=0)
    second = ensure_generated(tmp_path / "b", counts, 48, seed=0)
    files = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert len(files) == 9
    for rel in files:
        assert np.array_equal(load_rgb(first / rel), load_rgb(second / rel))


def test_load_rgb_converts_modes_and_names_bad_files(tmp_path):
    from PIL import Image

    Image.new("L", (8, 6), 100).save(tmp_path / "gray.png")
    Image.new("RGBA", (8, 6), (1, 2, 3, 4)).save(tmp_path / "rgba.png")
    Image.new("P", (8, 6)).save(tmp_path / "palette.gif")
    for name in ("gray.png", "rgba.png", "palette.gif"):
        image = load_rgb(tmp_path / name)
        assert image.shape == (6, 8, 3) and image.dtype == np.uint8
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.jpg"):
        load_rgb(tmp_path / "broken.jpg")


@pytest.mark.parametrize("augment", ["none", "light", "strong"])
def test_datamodule_batches(imagefolder_root, augment):
    dm = ClassificationDataModule(
        source="imagefolder",
        root=str(imagefolder_root),
        image_size=32,
        mean=[0.5] * 3,
        std=[0.5] * 3,
        augment=augment,
        batch_size=4,
        num_workers=0,
    )
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert not dm.has_test
    with pytest.raises(DataError, match="no 'test' split"):
        dm.test_dataloader()
