"""How long the detection task's mAP takes: `update` and `compute()` of its torchmetrics
MeanAveragePrecision on a synthetic set, JSON out.

    python scripts/bench_map.py [--images 500] [--out FILE.json]

Each image gets 1-10 ground-truth boxes of 20 classes and 100 detections: noisy copies of
its boxes plus random ones, with random scores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from visionlab.tasks.detection import map_metric
from visionlab.utils.config import config_dir

REPO = config_dir().parent
CLASSES = 20
DETECTIONS = 100


def random_boxes(generator: torch.Generator, n: int, size: float = 640.0) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=generator) * size * 0.8
    wh = 8 + torch.rand(n, 2, generator=generator) * size * 0.3
    return torch.cat([xy, xy + wh], dim=1)


def synthetic_set(images: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    generator = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for _ in range(images):
        n = int(torch.randint(1, 11, (1,), generator=generator))
        boxes = random_boxes(generator, n)
        labels = torch.randint(0, CLASSES, (n,), generator=generator)
        noisy = boxes + torch.randn(n, 4, generator=generator) * 6
        extra = DETECTIONS - n
        preds.append(
            {
                "boxes": torch.cat([noisy, random_boxes(generator, extra)]),
                "scores": torch.rand(DETECTIONS, generator=generator),
                "labels": torch.cat(
                    [labels, torch.randint(0, CLASSES, (extra,), generator=generator)]
                ),
            }
        )
        targets.append({"boxes": boxes, "labels": labels})
    return preds, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_map.json")
    args = parser.parse_args()
    preds, targets = synthetic_set(args.images)
    metric = map_metric()
    start = time.perf_counter()
    metric.update(preds, targets)
    updated = time.perf_counter()
    value = metric.compute()
    done = time.perf_counter()
    result = {
        "benchmark": "detection mAP time",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "images": args.images,
        "classes": CLASSES,
        "detections_per_image": DETECTIONS,
        "update_s": round(updated - start, 3),
        "compute_s": round(done - updated, 3),
        "mAP": round(value["map"].item(), 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
