"""Top-k class predictions for image files, written as `predictions.csv`."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from visionlab.data.transforms import build_classification_transforms
from visionlab.predictors.common import image_batches
from visionlab.tasks import ClassificationTask


def predict_classification(
    task: ClassificationTask,
    files: Sequence[Path],
    output_dir: Path,
    topk: int = 5,
    batch_size: int = 32,
    device: str = "cpu",
    root: Path | None = None,
    **_: object,
) -> Path:
    """Write `output_dir/predictions.csv`: file, then class and probability for the top k."""
    data = task.run_config["data"]
    pipeline = build_classification_transforms(
        train=False,
        image_size=data["image_size"],
        mean=data["mean"],
        std=data["std"],
        crop_pct=data["crop_pct"],
        interpolation=data["interpolation"],
    )
    class_names = task.hparams.class_names
    k = min(topk, len(class_names))
    task = task.to(device)
    output_dir.mkdir(parents=True, exist_ok=True)
    out_path = output_dir / "predictions.csv"
    header = ["file"] + [f"{kind}_{i}" for i in range(1, k + 1) for kind in ("class", "prob")]

    def preprocess(image):
        return pipeline(image=image)["image"]

    with out_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for paths, images, _ in image_batches(files, preprocess, batch_size):
            probs, indices = task.predict_proba(images.to(device)).topk(k, dim=-1)
            for path, p, idx in zip(paths, probs.tolist(), indices.tolist(), strict=True):
                name = path.relative_to(root) if root else path
                row = [str(name)]
                for prob, cls in zip(p, idx, strict=True):
                    row += [class_names[cls], f"{prob:.6f}"]
                writer.writerow(row)
    return out_path
