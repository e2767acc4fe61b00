"""Lightning data modules: a shared base that reads a source once, and one per task family."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from visionlab.data.check import DataReport, check_index
from visionlab.data.datasets import (
    ClassificationDataset,
    DetectionDataset,
    SegmentationDataset,
    collate_detection,
)
from visionlab.data.loaders import EpochSeededLoader, seed_worker
from visionlab.data.samples import SourceIndex
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
from visionlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)
ON_ERROR = ("skip", "raise")


class VisionDataModule(L.LightningDataModule):
    """Reads `source` under `root` into samples per split and serves them in loaders.

    Subclasses name the sources they accept and build their split datasets.
    """

    sources: dict[str, Callable[..., SourceIndex]] = {}
    task_name = ""

    def __init__(
        self,
        source: str,
        root: str,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        crop_pct: float = 0.875,
        interpolation: str = "bilinear",
        augment: str = "light",
        train_transforms: Sequence[dict] | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool | None = None,
        on_error: str = "skip",
        options: dict | None = None,
    ) -> None:
        super().__init__()
        if source not in self.sources:
            raise ConfigError(
                f"data source '{source}' cannot serve task={self.task_name}; "
                f"choose one of: {', '.join(self.sources)}"
            )
        if on_error not in ON_ERROR:
            raise ConfigError(f"data.on_error={on_error!r} must be one of {ON_ERROR}")
        self.source, self.root = source, Path(root)
        self.transform_args = dict(
            image_size=image_size,
            mean=tuple(mean),
            std=tuple(std),
            crop_pct=crop_pct,
            interpolation=interpolation,
            augment=augment,
            custom=train_transforms,
        )
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.on_error = on_error
        self.options = dict(options or {})
        self.datasets: dict[str, Dataset] = {}
        self.report: DataReport | None = None
        self.report_path: Path | None = None  # where the data check writes its report
        # training sets these: each epoch is seeded with seed + epoch, and deterministic runs
        # restart loader workers each epoch (persistent ones carry their random state over)
        self.seed: int | None = None
        self._resumed_epoch = 0
        self.persistent_workers = True

    @cached_property
    def index(self) -> SourceIndex:
        """The usable samples, read once and checked file by file (see `visionlab.data.check`).

        The check's report is logged, kept as `self.report` and written to `report_path` when
        one is set; with `on_error=raise`, any problem stops here.
        """
        found = self.sources[self.source](self.root, **self.source_options)
        index, self.report = check_index(found, self.source, self.root)
        self.report.log_summary()
        if self.report_path:
            self.report.write(self.report_path)
        if index.skipped and self.on_error == "raise":
            listing = "\n".join(f"  {path}: {reason}" for path, reason in index.skipped)
            raise DataError(
                f"{len(index.skipped)} bad item(s) in {self.root} (data.on_error=raise):\n{listing}"
            )
        for split, samples in found.splits.items():
            if samples and not index.split(split):
                raise DataError(
                    f"{self.root}: none of the {len(samples)} '{split}' images is usable "
                    "(the reasons are listed above)"
                )
        if not index.split("train"):
            raise DataError(f"{self.root}: no usable training images were found")
        return index

    @property
    def source_options(self) -> dict:
        """Keyword arguments for the source reader."""
        return self.options

    @property
    def class_names(self) -> list[str]:
        return list(self.index.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.index.class_names)

    @property
    def has_test(self) -> bool:
        return bool(self.index.split("test"))

    def prepare_data(self) -> None:
        """Read the source once (generating the embedded dataset if needed)."""
        _ = self.index

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split, samples in self.index.splits.items():
            if samples:
                self.datasets[split] = self.build_dataset(split, samples)
        counts = ", ".join(f"{s} {len(d)}" for s, d in self.datasets.items())
        log.info(
            "Data %s (%s): %s images, %d classes", self.source, self.root, counts, self.num_classes
        )

    def build_transform(self, train: bool):
        """The augmentation and preprocessing pipeline of a training or evaluation split."""
        raise NotImplementedError

    def build_dataset(self, split: str, samples: list) -> Dataset:
        raise NotImplementedError

    def _epoch(self) -> int:
        """The training epoch a loader is starting (also right after a resume)."""
        epoch = self.trainer.current_epoch if self.trainer else 0
        return max(epoch, self._resumed_epoch)

    def _epoch_seed(self) -> int | None:
        return None if self.seed is None else self.seed + self._epoch()

    def state_dict(self) -> dict:
        """Checkpointed: the epoch training resumes at (the loop's own counter is restored only
        after the first epoch's loader has started)."""
        loop = self.trainer.fit_loop
        done = loop.epoch_loop.batch_progress.current.completed >= self.trainer.num_training_batches
        return {"resume_epoch": self.trainer.current_epoch + int(done)}

    def load_state_dict(self, state: dict) -> None:
        self._resumed_epoch = state.get("resume_epoch", 0)

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.datasets:
            raise DataError(f"{self.root}: there is no '{split}' split")
        dataset = self.datasets[split]
        sampler = None
        if not train and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Lightning's default pads each rank's shard by repeating samples; evaluation must
            # count every sample once, so the shards are left uneven instead
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return EpochSeededLoader(
            dataset,
            epoch_seed=self._epoch_seed if train else lambda: None,
            generator=torch.Generator() if train else None,
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            collate_fn=self.collate_fn,
            worker_init_fn=seed_worker,
        )

    collate_fn = None

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)


class ClassificationDataModule(VisionDataModule):
    """Image classification: batches of `(images (B, 3, H, W), labels (B,))`."""

    sources = CLASSIFICATION_SOURCES
    task_name = "classify"

    def build_transform(self, train: bool):
        return build_classification_transforms(train=train, **self.transform_args)

    def build_dataset(self, split: str, samples: list) -> Dataset:
        return ClassificationDataset(samples, self.build_transform(split == "train"))


class DetectionDataModule(VisionDataModule):
    """Object detection: batches of `(images (B, 3, S, S), [target dict per image])`."""

    sources = DETECTION_SOURCES
    task_name = "detect"
    collate_fn = staticmethod(collate_detection)

    masks = False  # instance masks in the targets

    def build_transform(self, train: bool):
        return build_detection_transforms(train=train, masks=self.masks, **self.transform_args)

    def build_dataset(self, split: str, samples: list) -> Dataset:
        return DetectionDataset(samples, self.build_transform(split == "train"), self.masks)


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

    def class_pixel_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per class, over the training masks: pixels of that class, and pixels of the images
        that contain it (the inputs of median-frequency weights)."""
        class_pixels = torch.zeros(self.num_classes, dtype=torch.float64)
        image_pixels = torch.zeros(self.num_classes, dtype=torch.float64)
        decoder = self.index.mask_decoder
        for sample in self.index.split("train"):
            counts = torch.from_numpy(decoder.pixel_counts(sample.mask_path)).double()
            class_pixels += counts
            image_pixels += (counts > 0) * counts.sum()
        return class_pixels, image_pixels
