"""Detection speed: inference img/s of YOLOv1, Faster R-CNN and the sliding-window baseline at
the same input size and backbone, and training img/s of each against a plain PyTorch loop, in
one command.

    python scripts/bench_detect.py [--data PATH] [--image-size 384] [--out FILE.json]
        [--checkpoint yolov1 CKPT] [--checkpoint faster_rcnn CKPT] [--device cuda]

Data: ../shared/data/raccoon when present (CSV split files), else the embedded shapes scenes.
Training is timed in interleaved rounds of `--steps` batches against the plain loop (see
`benchlib`): the median per-round ratio and its bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib import (
    add_common_arguments,
    benchmark_model,
    detection_loss,
    result_header,
    write_result,
)
from benchlib import short_training_overrides as short_training

from visionlab.utils.checkpoint import load_model
from visionlab.utils.config import config_dir, models_for_task

REPO = config_dir().parent
RACCOON = REPO.parent / "shared" / "data" / "raccoon"
MODELS = models_for_task("detect")


def data_overrides(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [
        "data=csv_boxes",
        f"data.root={root}",
        "++data.options.files={train:splits/train_labels.csv,val:splits/test_labels.csv}",
        "++data.options.images=images",
        "++data.options.one_based=true",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=RACCOON)
    parser.add_argument("--image-size", type=int, default=384)
    add_common_arguments(parser, batch_size=4, steps=5)
    parser.add_argument(
        "--checkpoint",
        nargs=2,
        action="append",
        default=[],
        metavar=("MODEL", "CKPT"),
        help="time inference with trained weights (e.g. yolov1 logs/detect/<run>/checkpoints/"
        "best.ckpt): an untrained RPN proposes unlike a trained one",
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_detect.json")
    args = parser.parse_args()

    result = result_header("detection speed", args) | {
        "data": str(args.data) if args.data.is_dir() else "shapes",
        "image_size": args.image_size,
    }
    checkpoints = dict(args.checkpoint)
    result["inference_weights"] = {m: checkpoints.get(m, "untrained") for m in MODELS}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            overrides = [
                "task=detect",
                f"model={model}",
                *data_overrides(args.data),
                f"data.image_size={args.image_size}",
                *short_training(args),
            ]
            checkpoint = checkpoints.get(model)
            result["models"][model] = benchmark_model(
                overrides,
                Path(tmp) / model,
                args,
                detection_loss,
                predict=lambda task: task.predict_boxes,
                inference_batch=8,
                task=load_model(checkpoint) if checkpoint else None,
            )
    models = result["models"]
    if {"yolov1", "faster_rcnn"} <= set(models):
        result["yolov1_inference_speedup"] = round(
            models["yolov1"]["inference_img_per_s"] / models["faster_rcnn"]["inference_img_per_s"],
            2,
        )
    write_result(result, args.out)


if __name__ == "__main__":
    main()
