"""torch Datasets over lists of samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

from visionlab.data.io import load_rgb
from visionlab.data.samples import ClassificationSample, DetectionSample


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
    index) and `orig_size` (height, width) of the file."""

    def __init__(self, samples: Sequence[DetectionSample], transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        sample = self.samples[index]
        image = load_rgb(sample.path)
        out = self.transform(image=image, bboxes=sample.boxes, labels=sample.labels)
        target = {
            "boxes": torch.as_tensor(out["bboxes"], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.as_tensor(out["labels"], dtype=torch.int64).reshape(-1),
            "image_id": index,
            "orig_size": image.shape[:2],
        }
        return out["image"], target


def collate_detection(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """Stack images of one size; keep targets as a list (their box counts differ)."""
    images, targets = zip(*batch, strict=True)
    return torch.stack(images), list(targets)
