"""Segmentation speed: training img/s of UNet and FCN-32s/16s/8s against a plain PyTorch loop
with the same model, and inference img/s of each, in one command.

    python scripts/bench_segment.py [--data PATH] [--device cuda] [--out FILE.json]

Data: ../shared/data/camvid when present (`experiment=camvid`: 320 px training crops,
480 px evaluation frames), else the embedded shapes scenes. Training runs `--batches`
batches per epoch for `--epochs` epochs; epochs after the first (a warm-up) are averaged.
Inference times the model's forward pass and argmax on a batch of evaluation images; also
data-loader img/s and peak memory.
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
    plain_segmentation_loop,
    probe,
    short_training_overrides,
    visionlab_run,
)
from omegaconf import OmegaConf

from visionlab.cli.common import build_task
from visionlab.utils.config import config_dir

REPO = config_dir().parent
CAMVID = REPO.parent / "shared" / "data" / "camvid"
MODELS = ("unet", "fcn8s", "fcn16s", "fcn32s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CAMVID)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=8, help="training batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="the first is a warm-up")
    parser.add_argument("--repeats", type=int, default=5, help="timed inference batches")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_segment.json")
    args = parser.parse_args()
    camvid = args.data.is_dir()
    data = ["experiment=camvid", f"data.root={args.data}"] if camvid else ["task=segment"]

    result: dict = {
        "benchmark": "segmentation speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": str(args.data) if camvid else "shapes",
        "batch_size": args.batch_size,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            overrides = [
                *data,
                f"model={model}",
                "task.loss.class_weights=null",
                *short_training_overrides(
                    args.batch_size, args.num_workers, args.batches, args.device, args.epochs
                ),
            ]
            cfg, datamodule = probe(overrides, Path(tmp) / f"{model}-probe")
            task = build_task(cfg, datamodule).eval().to(args.device)
            val = datamodule.datasets["val"]
            images = torch.stack([val[i % len(val)][0] for i in range(args.batch_size)])
            infer = inference_speed(
                lambda x, task=task: task(x).argmax(1), images.to(args.device), args.repeats
            )
            feed = loader_speed(datamodule, batches=args.batches)
            plain = plain_segmentation_loop(
                datamodule,
                OmegaConf.to_container(cfg.model, resolve=True),
                cfg.task.optimizer.lr,
                epochs=args.epochs,
                max_batches=args.batches,
                device=args.device,
            )
            framework = visionlab_run(overrides, Path(tmp) / model)
            result["models"][model] = model_report(
                task, cfg.data.image_size, infer, feed, plain, framework, args.device
            ) | {"eval_image_size": list(images.shape[-2:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
