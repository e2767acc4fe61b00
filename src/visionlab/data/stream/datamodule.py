"""The task data modules reading a stream (`data=stream data.uri=...`) instead of folders:
same transforms, same data-check summary (the one made when the stream was written), same
batches."""

from __future__ import annotations

import io
import json
import logging
from functools import cached_property

import numpy as np
import torch

from visionlab.data.check import DataReport
from visionlab.data.datamodule import VisionDataModule
from visionlab.data.loaders import seed_worker
from visionlab.data.masks import MaskDecoder
from visionlab.data.samples import SourceIndex
from visionlab.data.stream.dataset import (
    EpochSeededStreamLoader,
    IndexedStreamSplit,
    StreamItem,
    StreamSplit,
)
from visionlab.data.stream.format import (
    FORMAT_VERSION,
    KIND_OF_TASK,
    LABELS,
    META,
    REPORT,
    split_samples,
)
from visionlab.data.stream.location import StreamLocation
from visionlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def read_meta(location: StreamLocation) -> dict:
    """A stream's `visionlab.json`, checked for a format this version reads."""
    meta = json.loads(location.read_bytes(META))
    if meta.get("format") != FORMAT_VERSION:
        raise DataError(
            f"{location.uri}: stream format {meta.get('format')} is not the format "
            f"{FORMAT_VERSION} this visionlab reads; write the stream again"
        )
    return meta


class StreamSource:
    """Mixin before a task's data module class: the task's transforms and batches, with the
    samples from the stream at `uri` (`endpoint_url`: an S3-compatible store's). At most
    `cache_limit` of chunks (e.g. "2GB") are kept in `cache_dir` (litdata's default cache
    folder when None)."""

    sources = {"stream": None}

    def __init__(
        self,
        uri: str,
        endpoint_url: str | None = None,
        cache_limit: str | int = "10GB",
        cache_dir: str | None = None,
        **data_args,
    ) -> None:
        super().__init__(**data_args)
        self.location = StreamLocation(uri, endpoint_url)
        self.cache_limit, self.cache_dir = cache_limit, cache_dir

    @cached_property
    def meta(self) -> dict:
        meta = read_meta(self.location)
        if self.task_name not in meta["tasks"]:
            raise DataError(
                f"{self.location.uri} serves {', '.join(meta['tasks'])}, not task={self.task_name}"
            )
        return meta

    @cached_property
    def index(self) -> SourceIndex:
        """The stream's class names and, per split, records of its images (names and labels,
        no pixels); the report is the one made when the stream was written."""
        meta = self.meta
        self.report = DataReport.from_dict(json.loads(self.location.read_bytes(REPORT)))
        self.report.log_summary()
        if self.report_path:
            self.report.write(self.report_path)
        with np.load(io.BytesIO(self.location.read_bytes(LABELS)), allow_pickle=False) as file:
            self.labels = dict(file)
        kind = KIND_OF_TASK[self.task_name]
        splits = {split: split_samples(kind, split, self.labels) for split in meta["splits"]}
        return SourceIndex(splits, list(meta["class_names"]))

    def build_dataset(self, split: str, samples: list) -> StreamSplit | IndexedStreamSplit:
        """Training iterates the split (litdata's chunk-wise shuffle, even DDP shares);
        evaluation reads it by index, sharded as folder splits are."""
        train = split == "train"
        item = StreamItem(
            KIND_OF_TASK[self.task_name],
            self.build_transform(train),
            masks=getattr(self, "masks", False),
            mask_decoder=self.stream_mask_decoder(),
        )
        stream = StreamSplit(
            self.location,
            split,
            item,
            shuffle=train,
            seed=self.seed or 0,
            drop_last=None,  # litdata evens the ranks' shares under DDP
            cache_dir=self.cache_dir,
            max_cache_size=self.cache_limit,
        )
        return stream if train else IndexedStreamSplit(stream, len(samples))

    def stream_mask_decoder(self) -> MaskDecoder | None:
        """Segmentation: the stored class-id PNGs, with the stream's ignore index mapped to
        this run's."""
        if "ignore_index" not in self.meta:
            return None
        written = int(self.meta["ignore_index"])
        remap = ((written, self.ignore_index),) if written != self.ignore_index else ()
        return MaskDecoder(self.num_classes, self.ignore_index, remap=remap)

    def class_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Segmentation's pixel counts come from `labels.npz` (the masks are in the chunks);
        classification counts its records' labels as folders do."""
        if self.task_name != "segment":
            return super().class_counts()
        _ = self.index
        return (
            torch.from_numpy(self.labels["train/class_pixels"]).double(),
            torch.from_numpy(self.labels["train/image_pixels"]).double(),
        )

    def object_sides(self):
        raise ConfigError(
            f"model.anchor_sizes=auto: {self.location.uri} does not record its images' sizes; "
            "give the sizes (one per pyramid level), or derive them from the folders once"
        )

    def _loader(self, split: str, train: bool):
        if not train:
            return super()._loader(split, train)
        if getattr(self, "sampler", "random") != "random":
            raise ConfigError(
                f"data.sampler={self.sampler}: a stream is read chunk by chunk and cannot be "
                "sampled by class; use task.loss.class_weights=balanced, or train from folders"
            )
        if getattr(self, "mosaic", 0):
            raise ConfigError(
                f"data.mosaic={self.mosaic}: a stream is read chunk by chunk, and a mosaic "
                "needs three other images drawn at random; set data.mosaic=0, or train from "
                "folders (multi-scale batches work with streams)"
            )
        return EpochSeededStreamLoader(
            self.datasets[split],
            epoch_seed=self._epoch_seed,
            epoch=self._epoch,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            collate_fn=self.collate(train=True),
            worker_init_fn=seed_worker,
        )


def stream_datamodule(base: type[VisionDataModule]) -> type[VisionDataModule]:
    """The data module class of `base`'s task reading a stream."""
    return type(f"Stream{base.__name__}", (StreamSource, base), {})
