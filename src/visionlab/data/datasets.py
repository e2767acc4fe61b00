"""torch Datasets over lists of samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

from visionlab.data.io import load_rgb
from visionlab.data.samples import ClassificationSample


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
