"""Reading a stream: one split as a litdata `StreamingDataset` whose items are decoded and
transformed exactly as the folder source's, and a loader seeded per epoch like the folders'."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
from litdata import StreamingDataLoader, StreamingDataset
from torch.utils.data import Dataset

from visionlab.data.datasets import (
    classification_item,
    detection_item,
    instance_masks,
    segmentation_item,
)
from visionlab.data.io import load_rgb
from visionlab.data.stream.location import StreamLocation
from visionlab.utils.seeding import seed_all


class StreamItem:
    """Turns a stored item into what the folder source's dataset yields for the same image."""

    def __init__(self, kind: str, transform: Callable, masks: bool = False, mask_decoder=None):
        self.kind, self.transform = kind, transform
        self.masks, self.mask_decoder = masks, mask_decoder

    def __call__(self, item: dict):
        name = item["name"]
        image = load_rgb(io.BytesIO(item["image"]), name=name)
        if self.kind == "classification":
            return classification_item(image, item["label"], self.transform)
        if self.kind == "detection":
            masks = None
            if self.masks:
                objects = json.loads(item["segmentations"])
                masks = instance_masks(image, objects, (item["height"], item["width"]), name)
            boxes = np.asarray(item["boxes"], dtype=np.float32).reshape(-1, 4)
            labels = np.asarray(item["labels"], dtype=np.int64).reshape(-1)
            return detection_item(image, boxes, labels, self.transform, item["index"], masks)
        mask = self.mask_decoder(io.BytesIO(item["mask"]))
        return segmentation_item(image, mask, self.transform, name)


class StreamSplit(StreamingDataset):
    """One split of a stream, chunks fetched into a local cache of at most `max_cache_size`.

    Iterated (training), it shuffles chunk by chunk from `seed` and litdata's epoch counter,
    and under DDP each rank reads its own, equal share. Indexed (`split[i]`, evaluation), it
    reads the split's i-th image.
    """

    def __init__(
        self,
        location: StreamLocation,
        split: str,
        item: StreamItem,
        shuffle: bool,
        seed: int,
        drop_last: bool | None,
        cache_dir: str | None,
        max_cache_size: str | int,
    ) -> None:
        super().__init__(
            location.child(split),
            cache_dir=cache_dir,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            max_cache_size=max_cache_size,
            storage_options=location.storage_options,
        )
        self.item = item

    def __getitem__(self, index):
        return self.item(super().__getitem__(index))

    def set_random_seed(self, seed: int) -> None:
        """Seed the augmentations (see `visionlab.data.loaders`)."""
        self.item.transform.set_random_seed(seed)


class IndexedStreamSplit(Dataset):
    """A stream split read by index, for evaluation: the loaders then shard it as they shard a
    folder split, every image exactly once over uneven ranks (litdata's own sharding can leave
    a rank with no batch when a split is smaller than ranks x batch size)."""

    def __init__(self, split: StreamSplit, length: int) -> None:
        self.split, self.length = split, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        return self.split[index]

    def set_random_seed(self, seed: int) -> None:
        self.split.set_random_seed(seed)


class EpochSeededStreamLoader(StreamingDataLoader):
    """litdata's loader, with each epoch's augmentations and global generators seeded by
    `epoch_seed()` as in `EpochSeededLoader`. A training loader (`epoch` given) also sets
    litdata's epoch counter, and so its shuffle, from the training epoch as it starts: epoch k
    reads the same order whether the run went straight through or resumed from the checkpoint
    of epoch k-1, as the folder source does."""

    def __init__(
        self,
        *args,
        epoch_seed: Callable[[], int | None],
        epoch: Callable[[], int] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.epoch_seed, self.epoch = epoch_seed, epoch

    def __iter__(self):
        seed = self.epoch_seed()
        if seed is not None:
            seed_all(seed)
            self.dataset.set_random_seed(seed)
        if self.epoch is not None:
            self.current_epoch = self.epoch()  # litdata counts from 1: it adds one as it starts
            self.restore = False  # the epoch starts from its beginning
        yield from super().__iter__()
