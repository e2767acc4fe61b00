"""Image decoding with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from visionlab.errors import DataError

UNREADABLE = (OSError, UnidentifiedImageError, ValueError, SyntaxError)
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def load_rgb(path, name: str | None = None) -> np.ndarray:
    """Decode an image file (a path or a file object) to an RGB uint8 array (H, W, 3),
    honouring EXIF orientation.

    Grayscale, palette, RGBA and 16-bit images are converted; an unreadable file raises a
    DataError naming it (`name`, else the path).
    """
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float32)
                image = Image.fromarray((array / max(array.max(), 1.0) * 255).astype(np.uint8))
            return np.asarray(image.convert("RGB"))
    except UNREADABLE as err:
        raise DataError(f"{name or path}: cannot read image ({err})") from err


def image_size(path: str | Path, verify: bool = False) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the file header.

    With `verify`, the pixels are decoded too (JPEGs at 1/8 scale), so truncated files are
    caught. A file that cannot be read raises a DataError naming it.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in ROTATED:
                width, height = height, width
            if verify:
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except UNREADABLE as err:
        raise DataError(f"{path}: cannot read image ({err})") from err
    return width, height
