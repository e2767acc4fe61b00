"""Mask sources and mask-aware transforms: index, palette and colour masks, remapping, bad
files, and image/mask alignment through augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.data import SegmentationDataModule
from visionlab.data.masks import MaskDecoder
from visionlab.data.sources import read_mask_folders
from visionlab.data.transforms import build_segmentation_transforms
from visionlab.errors import DataError
from visionlab.losses import median_frequency_weights

from .conftest import SHARED_DATA

COLOURS = {"background": [0, 0, 0], "road": [128, 64, 128], "car": [64, 0, 128]}


def _save(path: Path, array: np.ndarray, palette: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if palette:
        image = image.convert("P")
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
        image.putdata(array.ravel().tolist())
    image.save(path)
    return path


def test_index_palette_and_colour_masks_decode_to_the_same_ids(tmp_path):
    ids = np.random.default_rng(0).integers(0, 3, size=(12, 16)).astype(np.uint8)
    ids[0, :4] = 255
    colours = np.asarray(list(COLOURS.values()), dtype=np.uint8)
    rgb = colours[np.where(ids == 255, 0, ids)]
    decoder = MaskDecoder(num_classes=3, colors=tuple(map(tuple, colours.tolist())))
    index = decoder(_save(tmp_path / "index.png", ids))
    palette = decoder(_save(tmp_path / "palette.png", ids, palette=True))
    assert Image.open(tmp_path / "palette.png").mode == "P"
    colour = decoder(_save(tmp_path / "colour.png", rgb))
    np.testing.assert_array_equal(index, ids)
    np.testing.assert_array_equal(palette, ids)
    np.testing.assert_array_equal(colour, np.where(ids == 255, 0, ids))
    assert index.dtype == np.int64


def test_remap_and_bad_values_name_the_file(tmp_path):
    ids = np.array([[0, 1, 11], [7, 11, 1]], dtype=np.uint8)
    path = _save(tmp_path / "m.png", ids)
    remapped = MaskDecoder(num_classes=8, remap=((11, 255),))(path)
    np.testing.assert_array_equal(remapped, [[0, 1, 255], [7, 255, 1]])
    with pytest.raises(DataError, match=r"m\.png.*\[11\].*remap"):
        MaskDecoder(num_classes=8)(path)


def test_colour_masks_need_a_table_and_known_colours(tmp_path):
    path = _save(tmp_path / "c.png", np.full((4, 4, 3), (1, 2, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="colour table"):
        MaskDecoder(num_classes=2)(path)
    with pytest.raises(DataError, match=r"c\.png: colours \[\(1, 2, 3\)\]"):
        MaskDecoder(num_classes=1, colors=((0, 0, 0),))(path)


def _dataset(root: Path, names: list[str], size=(32, 48), mask_size=None) -> None:
    rng = np.random.default_rng(1)
    for name in names:
        _save(root / "images" / "train" / f"{name}.jpg", rng.integers(0, 255, (*size, 3), np.uint8))
        mask = rng.integers(0, 3, mask_size or size).astype(np.uint8)
        _save(root / "masks" / "train" / f"{name}.png", mask)


def test_reader_pairs_by_stem_reports_orphans_and_splits(tmp_path):
    _dataset(tmp_path, [f"{i:02d}" for i in range(10)])
    (tmp_path / "images" / "train" / "lonely.png").write_bytes(
        (tmp_path / "images" / "train" / "00.jpg").read_bytes()
    )
    _save(tmp_path / "masks" / "train" / "orphan.png", np.zeros((4, 4), np.uint8))
    index = read_mask_folders(tmp_path, classes=["a", "b", "c"], val_fraction=0.2)
    assert (len(index.split("train")), len(index.split("val"))) == (8, 2)
    reasons = dict((Path(p).name, r) for p, r in index.skipped)
    assert "no mask" in reasons["lonely.png"] and "without an image" in reasons["orphan.png"]
    with pytest.raises(DataError, match="class names"):
        read_mask_folders(tmp_path)


def _blocks(size=(90, 120)) -> tuple[np.ndarray, np.ndarray]:
    """An image of flat colour blocks whose mask is a function of its pixels."""
    ids = np.zeros(size, dtype=np.uint8)
    ids[10:50, 20:70], ids[40:85, 60:110], ids[5:30, 90:118] = 1, 2, 3
    palette = np.array([[20, 20, 20], [230, 30, 30], [30, 230, 30], [30, 30, 230]], np.uint8)
    return palette[ids], ids


def _ids_from_pixels(image: torch.Tensor) -> np.ndarray:
    palette = np.array([[20, 20, 20], [230, 30, 30], [30, 230, 30], [30, 30, 230]], float)
    pixels = (image.permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255
    return np.linalg.norm(pixels[..., None, :] - palette, axis=-1).argmin(-1)


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 5x5 neighbourhood lies inside the crop and holds one class."""
    padded = np.pad(mask, 2, constant_values=-1)
    same = np.ones(mask.shape, dtype=bool)
    for dy in range(5):
        for dx in range(5):
            same &= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]] == mask
    return same


@pytest.mark.parametrize(
    "augment, custom",
    [
        ("light", None),
        ("strong", [{"_target_": "albumentations.Affine", "rotate": [-30, 30], "p": 1.0}]),
    ],
)
def test_augmentations_keep_image_and_mask_aligned(augment, custom):
    image, ids = _blocks()
    transform = build_segmentation_transforms(
        train=True,
        image_size=64,
        eval_size=120,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        augment=augment,
        custom=custom,
    )
    for seed in range(20):
        transform.set_random_seed(seed)
        out = transform(image=image, mask=ids)
        mask = np.asarray(out["mask"], dtype=np.int64)
        assert out["image"].shape == (3, 64, 64) and mask.shape == (64, 64)
        assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}
        valid = (mask != 255) & _interior(mask)  # edges blend colours under interpolation
        agree = (_ids_from_pixels(out["image"])[valid] == mask[valid]).mean()
        assert agree > 0.99, f"seed {seed}: only {agree:.3f} of the pixels agree"


def test_eval_pads_with_ignored_pixels_and_keeps_the_image_scale():
    image, ids = _blocks()
    out = build_segmentation_transforms(
        train=False, image_size=64, eval_size=120, mean=(0.5,) * 3, std=(0.5,) * 3
    )(image=image, mask=ids)
    mask = np.asarray(out["mask"])
    assert mask.shape == (120, 120)
    np.testing.assert_array_equal(mask[:90], ids)
    assert (mask[90:] == 255).all()


@pytest.mark.skipif(not (SHARED_DATA / "camvid").is_dir(), reason="camvid not present")
def test_median_frequency_weights_of_camvid_are_close_to_segnets():
    """SegNet's published weights come from all CamVid frames; the subset here gives weights of
    the same size (within a factor 2.5), with pavement as the median class."""
    segnet = [0.2595, 0.1826, 4.5640, 0.1417, 0.9051, 0.3826, 9.6446, 1.8418, 0.6823, 6.2478]
    segnet.append(7.3614)
    module = SegmentationDataModule(
        source="masks",
        root=str(SHARED_DATA / "camvid"),
        image_size=320,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        options={
            "classes": [str(i) for i in range(11)],
            "remap": {11: 255},
            "splits": {"train": {"images": "train", "masks": "trainannot"}},
        },
    )
    weights = median_frequency_weights(*module.class_counts())
    ratio = weights / torch.tensor(segnet)
    assert ((ratio > 0.4) & (ratio < 2.5)).all(), ratio
    assert weights[4] == pytest.approx(1.0)
