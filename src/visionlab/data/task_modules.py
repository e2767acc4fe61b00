"""The data module of each task family: its sources, transforms, datasets and batches."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from visionlab.data.balance import MIXES, SAMPLERS, MixingCollate, balanced_sampler
from visionlab.data.datamodule import VisionDataModule
from visionlab.data.datasets import (
    ClassificationDataset,
    DetectionDataset,
    SegmentationDataset,
    collate_detection,
)
from visionlab.data.mosaic import MosaicSampler, random_batch_side, resize_batch
from visionlab.data.sources import (
    CLASSIFICATION_SOURCES,
    DETECTION_SOURCES,
    INSTANCE_SOURCES,
    SEGMENTATION_SOURCES,
)
from visionlab.data.transforms import (
    build_classification_transforms,
    build_detection_transforms,
    build_segmentation_transforms,
)
from visionlab.errors import ConfigError


class ClassificationDataModule(VisionDataModule):
    """Image classification: batches of `(images (B, 3, H, W), labels (B,))`.

    Training batches can be mixed (`mix`: mixup | cutmix | mixup_cutmix, Beta(`mix_alpha`)
    proportions; labels become class probabilities), images erased in part with probability
    `random_erasing`, and drawn class-balanced (`sampler=balanced`).
    """

    sources = CLASSIFICATION_SOURCES
    task_name = "classify"

    def __init__(
        self,
        mix: str = "none",
        mix_alpha: float = 1.0,
        random_erasing: float = 0.0,
        sampler: str = "random",
        **data_args,
    ) -> None:
        super().__init__(**data_args)
        for key, value, options in (("mix", mix, MIXES), ("sampler", sampler, SAMPLERS)):
            if value not in options:
                raise ConfigError(f"data.{key}={value}: choose one of {', '.join(options)}")
        self.mix, self.mix_alpha, self.sampler = mix, mix_alpha, sampler
        self.transform_args["random_erasing"] = random_erasing

    def build_transform(self, train: bool):
        return build_classification_transforms(train=train, **self.transform_args)

    def train_labels(self) -> list[int]:
        return [sample.label for sample in self.index.split("train")]

    def train_sampler(self, generator: torch.Generator):
        if self.sampler == "random":
            return None
        return balanced_sampler(self.train_labels(), generator)

    def collate(self, train: bool):
        if not train or self.mix == "none":
            return None
        return MixingCollate(self.mix, self.mix_alpha, self.num_classes)

    def build_dataset(self, split: str, samples: list) -> Dataset:
        return ClassificationDataset(samples, self.build_transform(split == "train"))

    def class_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per class: training images of that class, and all training images (the inputs of
        class weights, `task.loss.class_weights`)."""
        labels = torch.tensor(self.train_labels())
        counts = torch.bincount(labels, minlength=self.num_classes).double()
        return counts, torch.full_like(counts, len(labels))


class DetectionDataModule(VisionDataModule):
    """Object detection: batches of `(images (B, 3, S, S), [target dict per image])`.

    Training images become mosaics of four with probability `mosaic`, except in the last
    `mosaic_off_epochs` epochs; with `multi_scale` (`[low, high]` factors of `image_size`)
    each training batch is resized to a random side, a multiple of `size_multiple`.
    """

    sources = DETECTION_SOURCES
    task_name = "detect"
    masks = False  # instance masks in the targets

    def __init__(
        self,
        mosaic: float = 0.0,
        mosaic_off_epochs: int = 2,
        multi_scale: tuple[float, float] | None = None,
        size_multiple: int = 32,
        **data_args,
    ) -> None:
        super().__init__(**data_args)
        if mosaic and self.masks:
            raise ConfigError(
                "data.mosaic: instance masks are not joined into mosaics; set data.mosaic=0"
            )
        if multi_scale is not None and not 0 < multi_scale[0] <= multi_scale[1]:
            raise ConfigError(f"data.multi_scale={list(multi_scale)}: give [low, high] factors")
        self.mosaic, self.mosaic_off_epochs = mosaic, mosaic_off_epochs
        self.multi_scale, self.size_multiple = multi_scale, size_multiple

    def collate(self, train: bool):
        return collate_detection

    def build_transform(self, train: bool):
        return build_detection_transforms(train=train, masks=self.masks, **self.transform_args)

    def build_dataset(self, split: str, samples: list) -> Dataset:
        transform = self.build_transform(split == "train")
        size = self.transform_args["image_size"]
        return DetectionDataset(samples, transform, self.masks, mosaic_size=size)

    def object_sides(self) -> tuple[np.ndarray, np.ndarray]:
        """sqrt(w x h) of every training box once its image is resized to the input square,
        and the box's class."""
        side = self.transform_args["image_size"]
        sides, labels = [np.zeros(0, np.float32)], [np.zeros(0, np.int64)]
        for sample in self.index.split("train"):
            with Image.open(sample.path) as image:
                scale = np.array([side / image.width, side / image.height] * 2, np.float32)
            boxes = sample.boxes * scale
            sides.append(np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
            labels.append(sample.labels)
        return np.concatenate(sides), np.concatenate(labels)

    def train_sampler(self, generator: torch.Generator):
        if not self.mosaic:
            return None
        size = len(self.datasets["train"])
        return MosaicSampler(size, self.mosaic, self.mosaic_epoch, generator)

    def mosaic_epoch(self) -> bool:
        """Whether the epoch starting now makes mosaics (not in the last `mosaic_off_epochs`)."""
        max_epochs = self.trainer.max_epochs if self.trainer else None
        if max_epochs is None or max_epochs < 0:
            return True
        return self._epoch() < max_epochs - self.mosaic_off_epochs

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.multi_scale and self.trainer is not None and self.trainer.training:
            size = self.transform_args["image_size"]
            side = random_batch_side(size, self.multi_scale, self.size_multiple)
            batch = resize_batch(*batch, side)
        return batch


class InstanceDataModule(DetectionDataModule):
    """Instance segmentation: detection batches whose targets also hold `masks` (N, S, S)."""

    sources = INSTANCE_SOURCES
    task_name = "instance"
    masks = True

    @property
    def source_options(self) -> dict:
        return {**self.options, "masks": True}


class SegmentationDataModule(VisionDataModule):
    """Semantic segmentation: batches of `(images (B, 3, S, S), masks (B, S, S) int64)`.

    `image_size` is the side of the training crops; `eval_size` (default `image_size`) the
    longer side images are scaled to, and the square they are padded to for evaluation.
    Mask pixels equal to `ignore_index` (padding included) count for nothing.
    """

    sources = SEGMENTATION_SOURCES
    task_name = "segment"

    def __init__(self, eval_size: int | None = None, ignore_index: int = 255, **data_args):
        super().__init__(**data_args)
        self.ignore_index = ignore_index
        self.transform_args |= {"eval_size": eval_size, "ignore_index": ignore_index}

    @property
    def source_options(self) -> dict:
        return {**self.options, "ignore_index": self.ignore_index}

    def build_transform(self, train: bool):
        return build_segmentation_transforms(train=train, **self.transform_args)

    def build_dataset(self, split: str, samples: list) -> Dataset:
        transform = self.build_transform(split == "train")
        return SegmentationDataset(samples, transform, self.index.mask_decoder)

    def class_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per class, over the training masks: pixels of that class, and pixels of the images
        that contain it (the inputs of class weights, `task.loss.class_weights`)."""
        class_pixels = torch.zeros(self.num_classes, dtype=torch.float64)
        image_pixels = torch.zeros(self.num_classes, dtype=torch.float64)
        decoder = self.index.mask_decoder
        for sample in self.index.split("train"):
            counts = torch.from_numpy(decoder.pixel_counts(sample.mask_path)).double()
            class_pixels += counts
            image_pixels += (counts > 0) * counts.sum()
        return class_pixels, image_pixels
