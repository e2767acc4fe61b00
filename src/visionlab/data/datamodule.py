"""The Lightning data module base every task's builds on: reads a source once, checks it, and
serves its splits in epoch-seeded loaders."""

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
from visionlab.data.loaders import EpochSeededLoader, seed_worker
from visionlab.data.samples import SourceIndex
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
        batch_size: int | str = 32,
        eval_batch_size: int | None = None,
        max_batch_size: int = 64,
        memory_limit: float | str = 0.8,
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
        # "auto": chosen before fitting by `callbacks.BatchSizeSearch`, up to `max_batch_size`,
        # under `memory_limit` (a fraction of the memory, or a size such as "12GB")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.max_batch_size, self.memory_limit = max_batch_size, memory_limit
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
        generator = torch.Generator() if train else None
        sampler = self.train_sampler(generator) if train else None
        if not train and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Lightning's default pads each rank's shard by repeating samples; evaluation must
            # count every sample once, so the shards are left uneven instead
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return EpochSeededLoader(
            dataset,
            epoch_seed=self._epoch_seed if train else lambda: None,
            generator=generator,
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            collate_fn=self.collate(train),
            worker_init_fn=seed_worker,
        )

    def train_sampler(self, generator: torch.Generator):
        """The training sampler (None: a shuffle), drawing from `generator`."""
        return None

    def collate(self, train: bool) -> Callable | None:
        """The function that makes a batch of a training or evaluation split."""
        return None

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
