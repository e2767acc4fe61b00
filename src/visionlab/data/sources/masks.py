"""Image + mask folders: `images/<split>/<name>.<ext>` with `masks/<split>/<name>.png`, or any
folder pair per split (e.g. CamVid's `train` + `trainannot`). Mask names may add a suffix to
their image's (`<name>_mask.png`); masks are PNG, BMP, TIFF or GIF, and a JPEG mask (lossy) is
reported."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from visionlab.data.masks import MaskDecoder
from visionlab.data.samples import SegmentationSample, SourceIndex
from visionlab.data.sources.common import find_splits, is_image_file, random_split, require_dir
from visionlab.errors import DataError

MASK_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".gif")
LOSSY = (".jpg", ".jpeg")


def _class_table(
    classes: Sequence[str] | None, colors: Mapping[str, Sequence[int]] | None
) -> tuple[list[str], tuple | None]:
    if colors:
        if classes and list(classes) != list(colors):
            raise DataError("data.options.classes and the keys of data.options.colors disagree")
        return list(colors), tuple(tuple(int(v) for v in rgb) for rgb in colors.values())
    if not classes:
        raise DataError(
            "a mask dataset needs its class names: data.options.classes=[name0,name1,...] "
            "(index masks) or data.options.colors={name: [r,g,b]} (colour masks)"
        )
    return list(classes), None


def _name_suffix(image_stems: set[str], mask_stems: list[str]) -> str:
    """What mask names add to their image's name (`_mask` for `a.jpg` with `a_mask.png`): ''
    where names match as they are, else the commonest addition to the longest image name among
    the first masks."""
    if image_stems.intersection(mask_stems):
        return ""
    added = Counter(
        next((stem[cut:] for cut in range(len(stem) - 1, 0, -1) if stem[:cut] in image_stems), "")
        for stem in mask_stems[:20]
    )
    return max(added, key=lambda suffix: (bool(suffix), added[suffix]), default="")


def _pairs(image_dir: Path, mask_dir: Path) -> tuple[list, list]:
    """Pair images and masks by file stem (less a suffix every mask name adds, such as
    `_mask`); report the unpaired ones."""
    if not image_dir.is_dir():
        raise DataError(f"image folder '{image_dir}' does not exist")
    if not mask_dir.is_dir():
        raise DataError(f"mask folder '{mask_dir}' does not exist")
    images = [p for p in sorted(image_dir.iterdir()) if is_image_file(p)]
    files = [p for p in sorted(mask_dir.iterdir()) if p.suffix.lower() in MASK_EXTENSIONS + LOSSY]
    suffix = _name_suffix({p.stem for p in images}, [p.stem for p in files])
    named = {p: p.stem.removesuffix(suffix) for p in files if p.stem.endswith(suffix)}
    masks = {name: p for p, name in named.items() if p.suffix.lower() in MASK_EXTENSIONS}
    lossy = {name: p for p, name in named.items() if p.suffix.lower() in LOSSY}
    samples, skipped, used = [], [], set()
    for path in images:
        mask = masks.get(path.stem)
        if mask is None and path.stem in lossy:
            reason = f"its mask {lossy[path.stem].name} is a JPEG, whose compression blurs the"
            skipped.append(
                (str(path), reason + " class values; masks must be PNG, BMP, TIFF or GIF")
            )
            continue
        if mask is None:
            skipped.append((str(path), f"no mask named {path.stem}{suffix}.* in {mask_dir}"))
            continue
        samples.append(SegmentationSample(path, mask))
        used.add(path.stem)
    skipped += [(str(m), "mask without an image") for s, m in masks.items() if s not in used]
    return samples, skipped


def read_mask_folders(
    root: str | Path,
    classes: Sequence[str] | None = None,
    colors: Mapping[str, Sequence[int]] | None = None,
    remap: Mapping[int, int] | None = None,
    splits: Mapping[str, Mapping[str, str]] | None = None,
    ignore_index: int = 255,
    val_fraction: float = 0.2,
    seed: int = 0,
    **_: object,
) -> SourceIndex:
    """Read image/mask pairs per split.

    `splits` names the folders, `{train: {images: train, masks: trainannot}, val: ...}`;
    by default `images/<split>` and `masks/<split>` for each split present (val may be named
    `valid` or `validation`). With no val split, a seeded `val_fraction` of train becomes val.
    """
    root = require_dir(root, "Mask dataset")
    class_names, colour_table = _class_table(classes, colors)
    if splits is None:
        splits = {
            s: {"images": f"images/{name}", "masks": f"masks/{name}"}
            for s, name in find_splits(root / "images").items()
        }
    if "train" not in splits:
        raise DataError(f"{root}: no train split (expected images/train and masks/train)")
    found, skipped = {}, []
    for split, folders in splits.items():
        found[split], bad = _pairs(root / folders["images"], root / folders["masks"])
        skipped += bad
    if "val" not in found:
        found["train"], found["val"] = random_split(found["train"], val_fraction, seed)
    decoder = MaskDecoder(
        num_classes=len(class_names),
        ignore_index=ignore_index,
        colors=colour_table,
        remap=tuple((int(k), int(v)) for k, v in (remap or {}).items()),
    )
    return SourceIndex(found, class_names, skipped, mask_decoder=decoder)
