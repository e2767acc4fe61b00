"""Writing a stream from any folder source: every split's samples, as the data check left
them, into litdata chunks, then the stream's metadata (written last: a stream without
`visionlab.json` is an unfinished one)."""

from __future__ import annotations

import io
import json
import logging
import time
from functools import partial

import numpy as np
from litdata import optimize

from visionlab.data.datamodule import VisionDataModule
from visionlab.data.stream.format import (
    FORMAT_VERSION,
    KIND_OF_TASK,
    LABELS,
    META,
    REPORT,
    encode_sample,
    split_labels,
)
from visionlab.data.stream.location import StreamLocation

log = logging.getLogger(__name__)
# Training images are written in a fixed random order. litdata shuffles chunks and blocks of
# items, but each loader worker reads its own stretch of the data, and a batch comes from one
# worker: written in the source's order (ImageFolder: class by class), a batch would hold one
# class. Evaluation splits keep the source's order (item i is the folder split's image i).
TRAIN_ORDER_SEED = 0


def tasks_of_stream(task: str) -> list[str]:
    """The tasks a stream written for `task` serves (instance samples also hold the boxes)."""
    return ["detect", "instance"] if task == "instance" else [task]


def write_stream(
    datamodule: VisionDataModule,
    location: StreamLocation,
    chunk_bytes: str = "64MB",
    num_workers: int = 1,
) -> dict:
    """Write `datamodule`'s source (read and checked as training reads it) to `location`;
    return the metadata written."""
    index = datamodule.index
    decoder = index.mask_decoder
    labels: dict[str, np.ndarray] = {}
    for split, samples in index.splits.items():
        if not samples:
            continue
        start = time.perf_counter()
        entries = list(enumerate(samples))
        if split == "train":  # see TRAIN_ORDER_SEED
            order = np.random.default_rng(TRAIN_ORDER_SEED).permutation(len(entries))
            entries = [entries[i] for i in order]
        optimize(
            fn=partial(encode_sample, root=datamodule.root, mask_decoder=decoder),
            inputs=entries,
            output_dir=location.child(split),
            chunk_bytes=chunk_bytes,
            num_workers=num_workers,
            mode="overwrite",
            storage_options=location.storage_options,
            verbose=False,
        )
        labels |= split_labels(split, samples, datamodule.root, decoder)
        seconds = time.perf_counter() - start
        log.info("%s: %d images in %.1f s", location.child(split), len(samples), seconds)
    meta = {
        "format": FORMAT_VERSION,
        "kind": KIND_OF_TASK[datamodule.task_name],
        "tasks": tasks_of_stream(datamodule.task_name),
        "source": datamodule.source,
        "class_names": list(index.class_names),
        "splits": {split: len(s) for split, s in index.splits.items() if s},
    }
    if decoder is not None:
        meta["ignore_index"] = decoder.ignore_index
    buffer = io.BytesIO()
    np.savez(buffer, **labels)
    location.write_bytes(LABELS, buffer.getvalue())
    location.write_bytes(REPORT, json.dumps(datamodule.report.to_dict(), indent=2).encode())
    location.write_bytes(META, json.dumps(meta, indent=2).encode())
    return meta
