"""The dataset check: every image (and mask) of every split is opened once, bad items are named
and left out, and what was found is summarised in a report (`data_report.json`).

Results are cached per file, keyed on its size and modification time, so a second scan of an
unchanged dataset only stats its files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from visionlab.data.io import image_size
from visionlab.data.samples import (
    ClassificationSample,
    DetectionSample,
    SegmentationSample,
    SourceIndex,
)
from visionlab.errors import DataError
from visionlab.utils.files import atomic_write_text

log = logging.getLogger(__name__)
LISTED_PROBLEMS = 20  # the log lists this many; the report lists all


def cache_file(root: Path) -> Path:
    """Where the scan results for `root` are kept (`$VISIONLAB_CACHE_DIR`, else
    `~/.cache/visionlab`)."""
    base = Path(os.environ.get("VISIONLAB_CACHE_DIR") or Path.home() / ".cache" / "visionlab")
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return base / "scans" / f"{digest}.json"


class ScanCache:
    """Per-file results, valid while the file's size and mtime are unchanged."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.hits, self.entries = path, 0, {}
        if path and path.is_file():
            try:
                self.entries = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                self.entries = {}

    def lookup(self, kind: str, file: Path, compute):
        """`compute(file)` (a JSON-able value, or an error message for a DataError), cached."""
        try:
            stat = file.stat()
        except OSError as err:
            return {"error": f"{file}: cannot read ({err.strerror})"}
        key, signature = f"{kind}:{file}", [stat.st_size, stat.st_mtime_ns]
        entry = self.entries.get(key)
        if entry and entry[0] == signature:
            self.hits += 1
            return entry[1]
        try:
            result = compute(file)
        except DataError as err:
            result = {"error": str(err)}
        self.entries[key] = [signature, result]
        return result

    def save(self) -> None:
        if not self.path:
            return
        try:
            atomic_write_text(self.path, json.dumps(self.entries))
        except OSError as err:
            log.warning("Could not write the data scan cache %s (%s)", self.path, err)


@dataclass
class SplitStats:
    images: int = 0
    usable: int = 0
    empty: int = 0  # detection: images without objects (background)
    objects: int = 0
    class_counts: Counter = field(default_factory=Counter)  # images, objects or pixels
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)

    def summary(self, class_names: list[str]) -> dict:
        sizes = {}
        if self.widths:
            sizes = {
                "width": [min(self.widths), max(self.widths)],
                "height": [min(self.heights), max(self.heights)],
            }
        return {
            "images": self.images,
            "usable": self.usable,
            "skipped": self.images - self.usable,
            "empty": self.empty,
            "objects": self.objects,
            "class_counts": {name: int(self.class_counts[i]) for i, name in enumerate(class_names)},
            **sizes,
        }


@dataclass
class DataReport:
    """What the check found: per split counts, and every problem as (path, reason)."""

    source: str
    root: str
    class_names: list[str]
    counts: str  # what `class_counts` counts: images, objects or pixels
    splits: dict[str, dict]
    problems: list[tuple[str, str]]
    cached: int
    seconds: float
    anchor_sizes: list[int] | None = None  # model.anchor_sizes=auto: what the boxes gave

    def to_dict(self) -> dict:
        data = asdict(self)
        data["problems"] = [{"path": p, "reason": r} for p, r in self.problems]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DataReport:
        problems = [(p["path"], p["reason"]) for p in data.get("problems", [])]
        return cls(**{**data, "problems": problems})

    def write(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    def log_summary(self) -> None:
        lines = [f"Data check of {self.source} at {self.root} ({self.seconds:.1f} s):"]
        for split, s in self.splits.items():
            line = f"  {split:<5} {s['usable']} usable of {s['images']} images"
            if self.counts == "objects":
                line += f", {s['objects']} objects, {s['empty']} images without objects"
            if "width" in s:
                line += f", {s['width'][0]}-{s['width'][1]} x {s['height'][0]}-{s['height'][1]} px"
            lines.append(line)
        if "train" in self.splits:
            histogram = ", ".join(
                f"{k} {v}" for k, v in self.splits["train"]["class_counts"].items()
            )
            lines.append(f"  train {self.counts} per class: {histogram}")
        if self.problems:
            more = len(self.problems) - LISTED_PROBLEMS
            lines.append(f"  {len(self.problems)} problem(s):")
            lines += [f"    {p}: {r}" for p, r in self.problems[:LISTED_PROBLEMS]]
            lines += [f"    ... and {more} more (all in data_report.json)"] if more > 0 else []
        (log.warning if self.problems else log.info)("\n".join(lines))


def _check_mask(decoder, num_classes: int) -> tuple[str, Callable[[Path], dict]]:
    """The check of one mask, and the cache kind of its results: the decoder's settings
    (classes, colours, remap, ignore value) are part of it, as they decide the result."""

    def check(path: Path) -> dict:
        mask = decoder(path)
        counts = np.bincount(mask[(mask >= 0) & (mask < num_classes)], minlength=num_classes)
        return {"size": [mask.shape[1], mask.shape[0]], "pixels": counts.tolist()}

    return f"mask {hashlib.sha1(repr(decoder).encode()).hexdigest()[:12]}", check


def _check_sample(sample, cache: ScanCache, stats: SplitStats, check_mask) -> str | None:
    """Update `stats` with one sample; the reason it cannot be used, or None."""
    found = cache.lookup("image", sample.path, lambda p: list(image_size(p, verify=True)))
    if isinstance(found, dict):
        return found["error"].removeprefix(f"{sample.path}: ")
    width, height = found
    if isinstance(sample, SegmentationSample):
        kind, check = check_mask
        mask = cache.lookup(kind, sample.mask_path, check)
        if "error" in mask:
            return mask["error"]
        if mask["size"] != [width, height]:
            return (
                f"its mask {sample.mask_path.name} is {mask['size'][0]}x{mask['size'][1]}, "
                f"the image {width}x{height}"
            )
        stats.class_counts.update(dict(enumerate(mask["pixels"])))
    elif isinstance(sample, DetectionSample):
        if sample.size is not None and tuple(sample.size) != (height, width):
            return (
                f"the annotations say {sample.size[1]}x{sample.size[0]}, "
                f"the image is {width}x{height}"
            )
        stats.objects += len(sample.labels)
        stats.empty += len(sample.labels) == 0
        stats.class_counts.update(sample.labels.tolist())
    elif isinstance(sample, ClassificationSample):
        stats.class_counts[sample.label] += 1
    stats.widths.append(width)
    stats.heights.append(height)
    return None


def _absent_classes(train: dict, counts: str) -> str | None:
    """The message for classes with nothing to learn from in the train split, if any."""
    absent = [name for name, count in train["class_counts"].items() if count == 0]
    if not absent or not train["usable"]:
        return None
    message = f"no {counts} of class(es) {', '.join(absent)} in the train split"
    if counts == "pixels":
        message += " (masks that store a class as the ignore value need data.options.remap)"
    return message


def check_index(
    index: SourceIndex, source: str, root: Path, use_cache: bool = True
) -> tuple[SourceIndex, DataReport]:
    """Open every file of `index`; return the index without unusable samples, and the report.

    The source's own findings (`index.skipped`) lead the report's problems.
    """
    start = time.perf_counter()
    cache = ScanCache(cache_file(root) if use_cache else None)
    num_classes = len(index.class_names)
    check_mask = _check_mask(index.mask_decoder, num_classes) if index.mask_decoder else None
    problems = list(index.skipped)
    splits, summaries = {}, {}
    for split, samples in index.splits.items():
        stats, kept = SplitStats(images=len(samples)), []
        for sample in samples:
            reason = _check_sample(sample, cache, stats, check_mask)
            if reason is None:
                kept.append(sample)
            else:
                problems.append((str(sample.path), f"skipped: {reason}"))
        stats.usable = len(kept)
        splits[split], summaries[split] = kept, stats.summary(index.class_names)
    cache.save()
    first = next((s for samples in index.splits.values() for s in samples), None)
    counts = {SegmentationSample: "pixels", DetectionSample: "objects"}.get(type(first), "images")
    if "train" in summaries and (absent := _absent_classes(summaries["train"], counts)):
        problems.append((str(root), absent))
    report = DataReport(
        source=source,
        root=str(root),
        class_names=list(index.class_names),
        counts=counts,
        splits=summaries,
        problems=problems,
        cached=cache.hits,
        seconds=round(time.perf_counter() - start, 3),
    )
    checked = SourceIndex(splits, index.class_names, problems, index.mask_decoder)
    return checked, report
