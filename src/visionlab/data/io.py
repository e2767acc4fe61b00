"""Image decoding with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from visionlab.errors import DataError


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to an RGB uint8 array (H, W, 3), honouring EXIF orientation.

    Grayscale, palette, RGBA and 16-bit images are converted; an unreadable file raises a
    DataError naming it.
    """
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float32)
                image = Image.fromarray((array / max(array.max(), 1.0) * 255).astype(np.uint8))
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(f"{path}: cannot read image ({err})") from err
