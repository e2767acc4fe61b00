"""Detection speed: inference img/s of YOLOv1, Faster R-CNN and the sliding-window baseline at
the same input size and backbone, and training img/s of each against a plain PyTorch loop, in
one command.

    python scripts/bench_detect.py [--data PATH] [--image-size 384] [--out FILE.json]
        [--checkpoint yolov1 CKPT] [--checkpoint faster_rcnn CKPT] [--device cuda]

Data: ../shared/data/raccoon when present (CSV split files), else the embedded shapes scenes.
Training runs `--batches` batches per epoch for `--epochs` epochs; epochs after the first (a
warm-up) are averaged.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from benchlib import (
    inference_speed,
    loader_speed,
    model_report,
    plain_detection_loop,
    probe,
    short_training_overrides,
    visionlab_run,
)
from omegaconf import OmegaConf

from visionlab.cli.common import build_task
from visionlab.utils.checkpoint import load_model
from visionlab.utils.config import config_dir

REPO = config_dir().parent
RACCOON = REPO.parent / "shared" / "data" / "raccoon"
MODELS = ("yolov1", "faster_rcnn", "sliding_window")


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
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--batches", type=int, default=10, help="training batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="the first is a warm-up")
    parser.add_argument("--repeats", type=int, default=5, help="timed inference batches")
    parser.add_argument("--num-workers", type=int, default=2)
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
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_detect.json")
    args = parser.parse_args()

    result: dict = {
        "benchmark": "detection speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": str(args.data) if args.data.is_dir() else "shapes",
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "models": {},
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
                *short_training_overrides(
                    args.batch_size, args.num_workers, args.batches, args.device, args.epochs
                ),
            ]
            cfg, datamodule = probe(overrides, Path(tmp) / f"{model}-probe")
            checkpoint = checkpoints.get(model)
            task = load_model(checkpoint) if checkpoint else build_task(cfg, datamodule).eval()
            task.to(args.device)
            images = torch.stack([datamodule.datasets["val"][i][0] for i in range(8)])
            images = images.to(args.device)
            infer = inference_speed(task.predict_boxes, images, args.repeats)
            feed = loader_speed(datamodule, batches=args.batches)
            plain = plain_detection_loop(
                datamodule,
                OmegaConf.to_container(cfg.model, resolve=True),
                OmegaConf.to_container(cfg.task.loss, resolve=True),
                cfg.task.optimizer.lr,
                epochs=args.epochs,
                max_batches=args.batches,
                device=args.device,
            )
            framework = visionlab_run(overrides, Path(tmp) / model)
            result["models"][model] = model_report(
                task, args.image_size, infer, feed, plain, framework, args.device
            )
    models = result["models"]
    if {"yolov1", "faster_rcnn"} <= set(models):
        result["yolov1_inference_speedup"] = round(
            models["yolov1"]["inference_img_per_s"] / models["faster_rcnn"]["inference_img_per_s"],
            2,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
