"""Classification speed: training img/s of visionlab against a plain PyTorch loop (same model,
data and batch), inference and data-loader img/s, and peak memory, in one command.

    python scripts/bench_classify.py [--data PATH] [--device cuda] [--out FILE.json]

Both loops fine-tune tf_efficientnet_lite0 (ImageNet weights) with AdamW on the same train
split, transforms and DataLoader settings, in this one process, for `--epochs` epochs of
`--batches` batches; epochs after the first (a warm-up) are averaged. Throughput is images
per second from an epoch's first batch request to its last optimizer step. Also: inference
and data-loader img/s, and peak memory.
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
    plain_classification_loop,
    probe,
    short_training_overrides,
    visionlab_run,
)
from omegaconf import OmegaConf

from visionlab.cli.common import build_task
from visionlab.utils.config import config_dir

REPO = config_dir().parent
HYMENOPTERA = REPO.parent / "shared" / "data" / "hymenoptera_data"
MODELS = ("efficientnet_lite0",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HYMENOPTERA, help="an ImageFolder root")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=15, help="training batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="the first is a warm-up")
    parser.add_argument("--repeats", type=int, default=5, help="timed inference batches")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_classify.json")
    args = parser.parse_args()

    result: dict = {
        "benchmark": "classification speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": str(args.data),
        "batch_size": args.batch_size,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            overrides = [
                "data=imagefolder",
                f"data.root={args.data}",
                f"model={model}",
                *short_training_overrides(
                    args.batch_size, args.num_workers, args.batches, args.device, args.epochs
                ),
            ]
            cfg, datamodule = probe(overrides, Path(tmp) / f"{model}-probe")
            task = build_task(cfg, datamodule).eval().to(args.device)
            val = datamodule.datasets["val"]
            images = torch.stack([val[i % len(val)][0] for i in range(args.batch_size)])
            infer = inference_speed(task, images.to(args.device), args.repeats)
            feed = loader_speed(datamodule, batches=args.batches)
            plain = plain_classification_loop(
                datamodule,
                OmegaConf.to_container(cfg.model, resolve=True),
                cfg.task.optimizer.lr,
                epochs=args.epochs,
                device=args.device,
                max_batches=args.batches,
            )
            framework = visionlab_run(overrides, Path(tmp) / model)
            result["models"][model] = model_report(
                task, cfg.data.image_size, infer, feed, plain, framework, args.device
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
