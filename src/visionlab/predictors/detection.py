"""Detections for image files: `predictions.json` (COCO results format, original image
coordinates) and annotated copies of the images; for instance segmentation also each
detection's mask (COCO RLE in the JSON, and an instance-id PNG per image)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from visionlab.data.masks import coco_rle
from visionlab.data.transforms import build_detection_transforms
from visionlab.predictors.common import image_batches
from visionlab.tasks import DetectionTask, InstanceTask

NO_BOXES = np.zeros((0, 4), dtype=np.float32)
COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c"]


def _annotate(image: np.ndarray, detections: list[dict], path: Path) -> None:
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for det in detections:
        x, y, w, h = det["bbox"]
        colour = COLOURS[det["category_id"] % len(COLOURS)]
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=max(2, image.shape[1] // 300))
        draw.text((x + 2, y + 2), f"{det['category_name']} {det['score']:.2f}", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def _instance_ids(masks: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Per-detection masks (N, S, S) as one (H, W) uint8 map: 0 = none, i + 1 = detection i
    (higher-scoring detections, which come first, are painted last, so they stay on top)."""
    resized = F.interpolate(masks[:, None].float(), (height, width), mode="nearest")[:, 0] > 0
    ids = np.zeros((height, width), dtype=np.uint8)
    for i in reversed(range(min(len(resized), 255))):
        ids[resized[i].cpu().numpy()] = i + 1
    return ids


def predict_detection(
    task: DetectionTask,
    files: Sequence[Path],
    output_dir: Path,
    batch_size: int = 8,
    device: str = "cpu",
    root: Path | None = None,
    score_threshold: float = 0.25,
    **_: object,
) -> Path:
    """Write `output_dir/predictions.json` and `output_dir/images/<file>.png` with boxes drawn;
    for an InstanceTask also `output_dir/masks/<file>.png` (instance ids, see `_instance_ids`)
    and each detection's `segmentation` as COCO RLE."""
    data = task.run_config["data"]
    size = data["image_size"]
    pipeline = build_detection_transforms(
        train=False,
        image_size=size,
        mean=data["mean"],
        std=data["std"],
        interpolation=data["interpolation"],
    )
    names = task.hparams.class_names
    task = task.to(device)
    results = []

    def preprocess(image):
        return pipeline(image=image, bboxes=NO_BOXES, labels=np.zeros(0, np.int64))["image"]

    instances = isinstance(task, InstanceTask)
    predict = task.predict_instances if instances else task.predict_boxes
    for paths, images, originals in image_batches(files, preprocess, batch_size):
        for path, image, pred in zip(paths, originals, predict(images.to(device)), strict=True):
            height, width = image.shape[:2]
            scale = np.array([width / size, height / size, width / size, height / size])
            keep = pred["scores"] >= score_threshold
            name = str(path.relative_to(root) if root else path.name)
            detections = []
            for box, label, score in zip(
                pred["boxes"][keep].cpu().numpy() * scale,
                pred["labels"][keep].tolist(),
                pred["scores"][keep].tolist(),
                strict=True,
            ):
                x0, y0, x1, y1 = box.tolist()
                detections.append(
                    {
                        "file_name": name,
                        "category_id": label,
                        "category_name": names[label],
                        "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                        "score": round(score, 5),
                    }
                )
            if instances:
                ids = _instance_ids(pred["masks"][keep], height, width)
                for i, detection in enumerate(detections):
                    detection["segmentation"] = coco_rle(ids == i + 1)
                target = (output_dir / "masks" / name).with_suffix(".png")
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(ids).save(target)
            _annotate(image, detections, (output_dir / "images" / name).with_suffix(".png"))
            results += detections
    output_dir.mkdir(parents=True, exist_ok=True)
    out_path = output_dir / "predictions.json"
    out_path.write_text(json.dumps(results, indent=1))
    return out_path
