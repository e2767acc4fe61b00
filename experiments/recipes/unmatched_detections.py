"""Where a detector's mAP50 goes: per-class AP50 on a split, the detections that match no
labelled object (matched as the confusion matrix matches them) counted per class, and the
images with the most of them drawn (labelled objects green, unmatched detections red).

python experiments/recipes/unmatched_detections.py <best.ckpt> <out folder> [split] [images]
"""

import json
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torchmetrics.detection import MeanAveragePrecision

from visionlab.cli.common import build_datamodule
from visionlab.metrics import DetectionConfusionMatrix, best_first, match_detections
from visionlab.utils.checkpoint import load_model
from visionlab.utils.plots import detections_figure


def unmatched(pred: dict, target: dict, score_threshold: float) -> dict:
    """The detections of one image that match no labelled object."""
    kept = best_first(pred, score_threshold)
    missing = match_detections(kept["boxes"], target["boxes"]) < 0
    return {key: value[missing] for key, value in kept.items()}


def main(ckpt: str, out: Path, split: str = "test", shown: int = 4) -> None:
    task = load_model(ckpt).eval()
    datamodule = build_datamodule(OmegaConf.create(task.run_config["data"]), task.name)
    datamodule.setup("test" if split == "test" else "validate")
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    names = datamodule.class_names
    ap50 = MeanAveragePrecision(iou_thresholds=[0.5], class_metrics=True)
    confusion = DetectionConfusionMatrix(len(names))
    worst = []  # (unmatched count, image, unmatched detections, target)
    with torch.no_grad():
        for images, targets in loader:
            preds = task.predict_boxes(images)
            targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]
            ap50.update(preds, targets)
            confusion.update(preds, targets)
            for image, pred, target in zip(images, preds, targets, strict=True):
                extra = unmatched(pred, target, confusion.score_threshold)
                worst = sorted(
                    [*worst, (len(extra["boxes"]), image, extra, target)], key=lambda w: -w[0]
                )
                worst = worst[:shown]
    result, matrix = ap50.compute(), confusion.compute()
    summary = {
        "checkpoint": ckpt,
        "split": split,
        "mAP50": round(float(result["map"]), 4),
        "AP50": {
            names[int(c)]: round(float(v), 4)
            for c, v in zip(result["classes"], result["map_per_class"], strict=True)
        },
        "matched": {name: int(matrix[:-1, i].sum()) for i, name in enumerate(names)},
        "unmatched": {name: int(matrix[-1, i]) for i, name in enumerate(names)},
        "missed_objects": {name: int(matrix[i, -1]) for i, name in enumerate(names)},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "unmatched.json").write_text(json.dumps(summary, indent=1) + "\n")
    _, images, extras, objects = zip(*worst, strict=True)
    fig = detections_figure(images, extras, objects, names)
    fig.suptitle(f"labelled objects (green), detections that match none (red): {split} split")
    fig.savefig(out / "unmatched.png")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:4], *map(int, sys.argv[4:5]))
