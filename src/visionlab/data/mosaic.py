"""Detection's batch-composition augmentations: mosaic (four training images in one) and random
multi-scale batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Sampler

MIN_VISIBLE = 0.2  # the share of a box that must stay in the mosaic, as in the box transforms
MIN_SIDE = 2.0  # pixels


class MosaicSampler(Sampler):
    """A shuffle of `size` images that also draws, for each, whether it becomes a mosaic
    (probability `probability`, while `enabled()`), the three images it is joined with and the
    mosaic's centre. Yields `(index, partners, centre)`, `partners` empty for a plain image.

    Drawn in the main process from `generator`, so every epoch (and a resumed one) repeats
    exactly, whichever worker loads which image."""

    def __init__(
        self,
        size: int,
        probability: float,
        enabled: Callable[[], bool],
        generator: torch.Generator,
    ) -> None:
        self.size, self.probability = size, probability
        self.enabled, self.generator = enabled, generator

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, tuple[int, ...], tuple[float, float]]]:
        on = self.enabled()
        for index in torch.randperm(self.size, generator=self.generator).tolist():
            draws = torch.rand(3, generator=self.generator).tolist()
            if on and draws[0] < self.probability:
                partners = torch.randint(self.size, (3,), generator=self.generator).tolist()
                yield index, tuple(partners), (0.5 + draws[1], 0.5 + draws[2])
            else:
                yield index, (), (1.0, 1.0)


def mosaic(
    items: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    size: int,
    centre: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four `(image, boxes, labels)` joined around `centre` (in units of `size`, each in
    [0.5, 1.5]) on a 2`size` x 2`size` canvas, each image scaled so that its longer side is
    `size` and placed top-left, top-right, bottom-left, bottom-right of the centre; the
    `size` x `size` middle of the canvas is returned. Boxes move with their images, are
    clipped to the result, and are dropped when less than `MIN_VISIBLE` of them or less than
    `MIN_SIDE` pixels in either direction remains."""
    canvas = np.full((2 * size, 2 * size, 3), 114, dtype=np.uint8)
    cx, cy = round(centre[0] * size), round(centre[1] * size)
    all_boxes, all_labels = [], []
    for quadrant, (image, boxes, labels) in enumerate(items):
        scale = size / max(image.shape[:2])
        h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        x0 = cx - w if quadrant in (0, 2) else cx
        y0 = cy - h if quadrant in (0, 1) else cy
        # the part of the image that falls on the canvas
        left, top = max(x0, 0), max(y0, 0)
        right, bottom = min(x0 + w, 2 * size), min(y0 + h, 2 * size)
        canvas[top:bottom, left:right] = image[top - y0 : bottom - y0, left - x0 : right - x0]
        all_boxes.append(np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * scale + [x0, y0] * 2)
        all_labels.append(np.asarray(labels).reshape(-1))
    offset = size // 2
    boxes = np.concatenate(all_boxes) - offset
    clipped = boxes.clip(0, size)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (visible >= MIN_VISIBLE * np.maximum(area, 1e-6)) & (
        np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]) >= MIN_SIDE
    )
    labels = np.concatenate(all_labels)
    return canvas[offset : offset + size, offset : offset + size], clipped[keep], labels[keep]


def random_batch_side(image_size: int, scales: tuple[float, float], multiple: int) -> int:
    """A side drawn uniformly from `image_size` x `scales`, rounded to `multiple` (at least
    one `multiple`); torch's global generator, seeded per epoch, draws it."""
    low, high = (max(multiple, round(image_size * s / multiple) * multiple) for s in scales)
    return int(torch.randint(low // multiple, high // multiple + 1, ()).item()) * multiple


def resize_batch(
    images: torch.Tensor, targets: list[dict], side: int
) -> tuple[torch.Tensor, list[dict]]:
    """The batch at `side` x `side`: images bilinear, boxes scaled, instance masks nearest."""
    height, width = images.shape[-2:]
    if (height, width) == (side, side):
        return images, targets
    images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)
    factor = images.new_tensor([side / width, side / height] * 2)
    resized = []
    for target in targets:
        target = {**target, "boxes": target["boxes"] * factor}
        if "masks" in target:
            masks = target["masks"][:, None].float()
            target["masks"] = F.interpolate(masks, size=(side, side), mode="nearest")[:, 0]
            target["masks"] = target["masks"].to(torch.uint8)
        resized.append(target)
    return images, resized
