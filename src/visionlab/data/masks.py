"""Mask files to class-id arrays (class-index PNGs, palette PNGs, RGB colour masks), and COCO
instance segmentations (polygons or RLE) to binary masks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from visionlab.errors import DataError

COLOUR_MODES = ("RGB", "RGBA")


def _pack(rgb: np.ndarray) -> np.ndarray:
    """(…, 3) uint8 colours as one int per colour."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@dataclass(frozen=True)
class MaskDecoder:
    """Reads a mask file as an `(H, W)` int64 array of class ids in 0..C-1 or `ignore_index`.

    - single-channel and palette PNGs: the stored value (a palette PNG's index) is the id;
    - RGB masks: `colors[i]` is class i's colour (required for such files);
    - `remap` maps stored values to ids (`{11: 255}` makes value 11 ignored), before the check
      that every value is a class id or `ignore_index`; a file that fails it raises a DataError
      naming the file and the values.
    """

    num_classes: int
    ignore_index: int = 255
    colors: tuple[tuple[int, int, int], ...] | None = None
    remap: tuple[tuple[int, int], ...] = ()

    def __call__(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                mode = image.mode
                array = np.asarray(image.convert("RGB") if mode in COLOUR_MODES else image)
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise DataError(f"{path}: cannot read mask ({err})") from err
        if mode in COLOUR_MODES:
            ids = self._from_colours(path, array)
        elif array.ndim != 2:
            raise DataError(f"{path}: a mask needs one channel or RGB colours, got mode {mode}")
        else:
            ids = array.astype(np.int64)
        if self.remap:
            ids = self._remapped(ids)
        invalid = ((ids >= self.num_classes) & (ids != self.ignore_index)) | (ids < 0)
        bad = np.unique(ids[invalid])
        if bad.size:
            raise DataError(
                f"{path}: mask values {bad[:10].tolist()} are neither class ids "
                f"0..{self.num_classes - 1} nor the ignore index {self.ignore_index} "
                "(map them with data.options.remap)"
            )
        return ids

    def _from_colours(self, path: Path, rgb: np.ndarray) -> np.ndarray:
        if not self.colors:
            raise DataError(
                f"{path}: an RGB colour mask needs a colour table (data.options.colors)"
            )
        packed, inverse = np.unique(_pack(rgb), return_inverse=True)
        table = {c: i for i, c in enumerate(_pack(np.asarray(self.colors)).tolist())}
        unknown = [c for c in packed.tolist() if c not in table]
        if unknown:
            shown = [((c >> 16) & 255, (c >> 8) & 255, c & 255) for c in unknown[:5]]
            raise DataError(f"{path}: colours {shown} are not in data.options.colors")
        return np.asarray([table[c] for c in packed.tolist()])[inverse.reshape(rgb.shape[:2])]

    def _remapped(self, ids: np.ndarray) -> np.ndarray:
        values, inverse = np.unique(ids, return_inverse=True)
        mapping = dict(self.remap)
        return np.asarray([mapping.get(v, v) for v in values.tolist()])[inverse.reshape(ids.shape)]

    def pixel_counts(self, path: Path) -> np.ndarray:
        """Pixels per class id in one mask (ignored pixels not counted)."""
        ids = self(path)
        return np.bincount(ids[ids != self.ignore_index].ravel(), minlength=self.num_classes)


def coco_instance_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO `segmentation` (polygons, uncompressed RLE or compressed RLE) as an `(H, W)`
    uint8 mask."""
    from faster_coco_eval.core import mask as coco_mask

    if isinstance(segmentation, list):  # polygons: one object may have several parts
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"], "counts": getattr(counts, "encode", lambda: counts)()}
    return coco_mask.decode(rle).astype(np.uint8)


def coco_rle(mask: np.ndarray) -> dict:
    """A binary mask as COCO compressed RLE (`counts` as text, JSON-ready)."""
    from faster_coco_eval.core import mask as coco_mask

    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}
