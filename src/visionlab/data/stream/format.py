"""What a stream holds. One litdata dataset per split (`<uri>/<split>/`), whose items keep the
image file's bytes as stored (no re-encoding) beside its labels, plus three small files:

- `visionlab.json`: the format version, the kind of labels, the tasks served, class names,
  split sizes and (segmentation) the ignore index;
- `data_report.json`: the data check of the source the stream was written from;
- `labels.npz`: per split the image names and labels (boxes for detection; pixel counts per
  class for segmentation), for label statistics and class weights without reading the chunks.

Items: `name` (the image's path below the source root), `index` (its position in the split),
`image` (bytes) and, per kind, `label` (classification); `boxes` float32 (N, 4) pixel xyxy and
`labels` int64 (N,), plus `segmentations` (COCO JSON), `height` and `width` when written for
instance segmentation (detection); `mask`, a PNG of class ids (segmentation).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from visionlab.data.samples import ClassificationSample, DetectionSample, SegmentationSample

FORMAT_VERSION = 1
META, REPORT, LABELS = "visionlab.json", "data_report.json", "labels.npz"
KIND_OF_TASK = {
    "classify": "classification",
    "detect": "detection",
    "instance": "detection",
    "segment": "segmentation",
}


def _name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def encode_sample(entry: tuple[int, object], root: Path, mask_decoder=None) -> dict:
    """One stream item from `(index in split, sample)`."""
    index, sample = entry
    item = {"name": _name(sample.path, root), "index": index, "image": sample.path.read_bytes()}
    if isinstance(sample, ClassificationSample):
        return item | {"label": int(sample.label)}
    if isinstance(sample, DetectionSample):
        item |= {"boxes": sample.boxes, "labels": sample.labels}
        if sample.segmentations is not None:
            height, width = sample.size
            segmentations = json.dumps(list(sample.segmentations))
            item |= {"segmentations": segmentations, "height": height, "width": width}
        return item
    ids = mask_decoder(sample.mask_path)
    buffer = io.BytesIO()
    Image.fromarray(ids.astype(np.uint8 if ids.max() <= 255 else np.uint16)).save(buffer, "PNG")
    return item | {"mask": buffer.getvalue()}


def split_labels(split: str, samples: list, root: Path, mask_decoder=None) -> dict[str, np.ndarray]:
    """The arrays `labels.npz` keeps for one split."""
    arrays = {f"{split}/names": np.array([_name(s.path, root) for s in samples], dtype=str)}
    if samples and isinstance(samples[0], ClassificationSample):
        arrays[f"{split}/labels"] = np.array([s.label for s in samples], dtype=np.int64)
    elif samples and isinstance(samples[0], DetectionSample):
        arrays[f"{split}/counts"] = np.array([len(s.labels) for s in samples], dtype=np.int64)
        arrays[f"{split}/boxes"] = np.concatenate([s.boxes for s in samples]).reshape(-1, 4)
        arrays[f"{split}/labels"] = np.concatenate([s.labels for s in samples])
    elif split == "train" and samples:
        counts = np.stack([mask_decoder.pixel_counts(s.mask_path) for s in samples]).astype(float)
        arrays["train/class_pixels"] = counts.sum(0)
        arrays["train/image_pixels"] = ((counts > 0) * counts.sum(1, keepdims=True)).sum(0)
    return arrays


def split_samples(kind: str, split: str, labels: dict[str, np.ndarray]) -> list:
    """Records of one split's images, rebuilt from `labels.npz` (paths are the stored names)."""
    names = [Path(n) for n in labels.get(f"{split}/names", [])]
    if kind == "classification":
        classes = labels[f"{split}/labels"]
        return [ClassificationSample(n, int(c)) for n, c in zip(names, classes, strict=True)]
    if kind == "detection":
        ends = np.cumsum(labels[f"{split}/counts"])
        boxes = np.split(labels[f"{split}/boxes"], ends[:-1])
        classes = np.split(labels[f"{split}/labels"], ends[:-1])
        objects = zip(names, boxes, classes, strict=True)
        return [DetectionSample.create(n, b, c) for n, b, c in objects]
    return [SegmentationSample(n, n) for n in names]
