"""torch Datasets over lists of samples, and the per-item steps they share with streams."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from visionlab.data.io import load_rgb
from visionlab.data.masks import coco_instance_mask
from visionlab.data.mosaic import mosaic
from visionlab.data.samples import DetectionSample, SegmentationSample
from visionlab.errors import DataError


def classification_item(image: np.ndarray, label: int, transform: Callable) -> tuple:
    """`(image (3, H, W) float tensor, label int64 tensor)` from a decoded RGB image."""
    return transform(image=image)["image"], torch.tensor(label, dtype=torch.int64)


def detection_item(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    transform: Callable,
    image_id: int,
    masks: list[np.ndarray] | None = None,
) -> tuple[torch.Tensor, dict]:
    """`(image (3, H, W) float tensor, target)` from a decoded RGB image and its objects;
    see `DetectionDataset`. With `masks` (one (H, W) array per object) the target holds them
    too, transformed with the image."""
    inputs = {"image": image, "bboxes": boxes, "labels": labels}
    if masks is not None:
        inputs["masks"] = masks
        inputs["instance"] = np.arange(len(labels))
    out = transform(**inputs)
    target = {
        "boxes": torch.as_tensor(out["bboxes"], dtype=torch.float32).reshape(-1, 4),
        "labels": torch.as_tensor(out["labels"], dtype=torch.int64).reshape(-1),
        "image_id": image_id,
        "orig_size": image.shape[:2],
    }
    if masks is not None:
        size = tuple(out["image"].shape[-2:])
        kept = [np.asarray(out["masks"][i]) for i in np.asarray(out["instance"], dtype=int)]
        target["masks"] = torch.as_tensor(np.stack(kept) if kept else np.zeros((0, *size)))
        target["masks"] = target["masks"].to(torch.uint8)
    return out["image"], target


def instance_masks(
    image: np.ndarray, segmentations: Sequence, size: tuple[int, int], name: str
) -> list[np.ndarray]:
    """The objects' COCO segmentations as (H, W) masks, after checking that the image has the
    size its annotations give."""
    if image.shape[:2] != tuple(size):
        raise DataError(
            f"{name}: image is {image.shape[1]}x{image.shape[0]} but its "
            f"annotations say {size[1]}x{size[0]}"
        )
    return [coco_instance_mask(s, *size) for s in segmentations]


def segmentation_item(
    image: np.ndarray, mask: np.ndarray, transform: Callable, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(image (3, H, W) float tensor, mask (H, W) int64 tensor)` from a decoded image and its
    class-id mask of the same size."""
    if image.shape[:2] != mask.shape:
        raise DataError(
            f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{image.shape[1]}x{image.shape[0]}"
        )
    # OpenCV resizes 8-bit and 32-bit integer masks, not 64-bit ones
    small = mask.min() >= 0 and mask.max() <= 255
    out = transform(image=image, mask=mask.astype(np.uint8 if small else np.int32))
    return out["image"], torch.as_tensor(out["mask"], dtype=torch.int64)


class SampleDataset(Dataset):
    """A dataset over a list of samples and an augmentation pipeline (albumentations)."""

    def __init__(self, samples: Sequence, transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def set_random_seed(self, seed: int) -> None:
        """Seed the augmentations (see `visionlab.data.loaders`)."""
        self.transform.set_random_seed(seed)


class ClassificationDataset(SampleDataset):
    """Yields `(image (3, H, W) float tensor, label int64 tensor)`."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.samples[index]
        return classification_item(load_rgb(sample.path), sample.label, self.transform)


class DetectionDataset(SampleDataset):
    """Yields `(image (3, H, W) float tensor, target)` where target holds `boxes` float32
    (N, 4) pixel xyxy in the transformed image, `labels` int64 (N,), `image_id` (the sample's
    index) and `orig_size` (height, width) of the file; with `masks`, also `masks` uint8
    (N, H, W) decoded from the samples' COCO segmentations (the transform must take masks).

    An item is read by index, or by `(index, partners, centre)` from a `MosaicSampler`: with
    partners, the image is the mosaic of the four (`mosaic_size` square) before the transform.
    """

    def __init__(
        self,
        samples: Sequence[DetectionSample],
        transform: Callable,
        masks: bool = False,
        mosaic_size: int = 0,
    ) -> None:
        super().__init__(samples, transform)
        self.masks, self.mosaic_size = masks, mosaic_size

    def _objects(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sample = self.samples[index]
        return load_rgb(sample.path), sample.boxes, sample.labels

    def __getitem__(self, key: int | tuple) -> tuple[torch.Tensor, dict]:
        index, partners, centre = key if isinstance(key, tuple) else (key, (), None)
        image, boxes, labels = self._objects(index)
        if partners:
            joined = [(image, boxes, labels), *(self._objects(i) for i in partners)]
            image, boxes, labels = mosaic(joined, self.mosaic_size, centre)
        masks = None
        if self.masks:
            sample = self.samples[index]
            masks = instance_masks(image, sample.segmentations, sample.size, str(sample.path))
        return detection_item(image, boxes, labels, self.transform, index, masks)


class SegmentationDataset(SampleDataset):
    """Yields `(image (3, H, W) float tensor, mask (H, W) int64 tensor of class ids)`; pixels
    equal to the ignore index (padding included) count for nothing."""

    def __init__(
        self,
        samples: Sequence[SegmentationSample],
        transform: Callable,
        decode_mask: Callable,
    ) -> None:
        super().__init__(samples, transform)
        self.decode_mask = decode_mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.samples[index]
        image, mask = load_rgb(sample.path), self.decode_mask(sample.mask_path)
        return segmentation_item(image, mask, self.transform, str(sample.mask_path))


def collate_detection(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """Stack images of one size; keep targets as a list (their box counts differ)."""
    images, targets = zip(*batch, strict=True)
    return torch.stack(images), list(targets)
