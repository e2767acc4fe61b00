"""Masks for image files, in their original size: class-index PNGs, colour overlays and a
`predictions.json` summary (pixels per class)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from visionlab.data.transforms import build_segmentation_transforms
from visionlab.predictors.common import image_batches
from visionlab.tasks import SegmentationTask
from visionlab.utils.plots import class_colours, colour_mask


def _to_original(probs: torch.Tensor, height: int, width: int, size: int) -> np.ndarray:
    """Undo the eval pipeline for one image: crop the padding, resize the class probabilities
    to the original size, then take the most likely class."""
    scale = size / max(height, width)
    probs = probs[:, : round(height * scale), : round(width * scale)]
    probs = F.interpolate(probs[None], (height, width), mode="bilinear", align_corners=False)
    return probs[0].argmax(0).to(torch.uint8).cpu().numpy()


def predict_segmentation(
    task: SegmentationTask,
    files: Sequence[Path],
    output_dir: Path,
    batch_size: int = 8,
    device: str = "cpu",
    root: Path | None = None,
    **_: object,
) -> Path:
    """Write `masks/<file>.png` (class ids), `overlays/<file>.png` (the image with each class
    in its colour) and `predictions.json` under `output_dir`."""
    data = task.run_config["data"]
    size = data.get("eval_size") or data["image_size"]
    pipeline = build_segmentation_transforms(
        train=False,
        image_size=data["image_size"],
        eval_size=size,
        mean=data["mean"],
        std=data["std"],
        interpolation=data["interpolation"],
    )
    names = task.hparams.class_names
    colours = class_colours(len(names))
    task = task.to(device)
    summary = []

    def preprocess(image):
        return pipeline(image=image)["image"]

    for paths, images, originals in image_batches(files, preprocess, batch_size):
        for path, image, probs in zip(
            paths, originals, task.predict_proba(images.to(device)), strict=True
        ):
            mask = _to_original(probs, *image.shape[:2], size)
            name = Path(path.relative_to(root) if root else path.name).with_suffix(".png")
            for folder, picture in (
                ("masks", mask),
                ("overlays", (0.5 * image + 0.5 * colour_mask(mask, colours)).astype(np.uint8)),
            ):
                target = output_dir / folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(picture).save(target)
            counts = np.bincount(mask.ravel(), minlength=len(names)).tolist()
            summary.append(
                {
                    "file_name": str(name.with_suffix(path.suffix)),
                    "mask": str(Path("masks") / name),
                    "pixels_per_class": {n: c for n, c in zip(names, counts, strict=True) if c},
                }
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    out_path = output_dir / "predictions.json"
    out_path.write_text(json.dumps(summary, indent=1))
    return out_path
