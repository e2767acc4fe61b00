"""torch Datasets over lists of samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from visionlab.data.io import load_rgb
from visionlab.data.masks import coco_instance_mask
from visionlab.data.samples import ClassificationSample, DetectionSample, SegmentationSample
from visionlab.errors import DataError


class ClassificationDataset(Dataset):
    """Yields `(image (3, H, W) float tensor, label int64 tensor)`."""

    def __init__(self, samples: Sequence[ClassificationSample], transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.samples[index]
        image = self.transform(image=load_rgb(sample.path))["image"]
        return image, torch.tensor(sample.label, dtype=torch.int64)


class DetectionDataset(Dataset):
    """Yields `(image (3, H, W) float tensor, target)` where target holds `boxes` float32
    (N, 4) pixel xyxy in the transformed image, `labels` int64 (N,), `image_id` (the sample's
    index) and `orig_size` (height, width) of the file; with `masks`, also `masks` uint8
    (N, H, W) decoded from the samples' COCO segmentations (the transform must take masks)."""

    def __init__(
        self, samples: Sequence[DetectionSample], transform: Callable, masks: bool = False
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.masks = masks

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        sample = self.samples[index]
        image = load_rgb(sample.path)
        inputs = {"image": image, "bboxes": sample.boxes, "labels": sample.labels}
        if self.masks:
            if image.shape[:2] != sample.size:
                raise DataError(
                    f"{sample.path}: image is {image.shape[1]}x{image.shape[0]} but its "
                    f"annotations say {sample.size[1]}x{sample.size[0]}"
                )
            inputs["masks"] = [coco_instance_mask(s, *sample.size) for s in sample.segmentations]
            inputs["instance"] = np.arange(len(sample.labels))
        out = self.transform(**inputs)
        target = {
            "boxes": torch.as_tensor(out["bboxes"], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.as_tensor(out["labels"], dtype=torch.int64).reshape(-1),
            "image_id": index,
            "orig_size": image.shape[:2],
        }
        if self.masks:
            size = tuple(out["image"].shape[-2:])
            kept = [np.asarray(out["masks"][i]) for i in np.asarray(out["instance"], dtype=int)]
            target["masks"] = torch.as_tensor(np.stack(kept) if kept else np.zeros((0, *size)))
            target["masks"] = target["masks"].to(torch.uint8)
        return out["image"], target


class SegmentationDataset(Dataset):
    """Yields `(image (3, H, W) float tensor, mask (H, W) int64 tensor of class ids)`; pixels
    equal to the ignore index (padding included) count for nothing."""

    def __init__(
        self,
        samples: Sequence[SegmentationSample],
        transform: Callable,
        decode_mask: Callable,
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.decode_mask = decode_mask

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.samples[index]
        image, mask = load_rgb(sample.path), self.decode_mask(sample.mask_path)
        if image.shape[:2] != mask.shape:
            raise DataError(
                f"{sample.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                f"{sample.path.name} is {image.shape[1]}x{image.shape[0]}"
            )
        # OpenCV resizes 8-bit and 32-bit integer masks, not 64-bit ones
        small = mask.min() >= 0 and mask.max() <= 255
        out = self.transform(image=image, mask=mask.astype(np.uint8 if small else np.int32))
        return out["image"], torch.as_tensor(out["mask"], dtype=torch.int64)


def collate_detection(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """Stack images of one size; keep targets as a list (their box counts differ)."""
    images, targets = zip(*batch, strict=True)
    return torch.stack(images), list(targets)
