"""Training throughput of visionlab against a plain PyTorch loop, same model, data and batch.

    python scripts/bench_classify.py [--data PATH] [--epochs 3] [--out FILE.json]

Both loops train tf_efficientnet_lite0 (ImageNet weights) with AdamW on the same train split,
transforms and DataLoader settings, in this one process. Throughput is images per second
from an epoch's first batch request to its last optimizer step; the first epoch of each is a
warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from benchlib import plain_classification_loop, visionlab_run
from omegaconf import OmegaConf

from visionlab.cli.common import build_datamodule
from visionlab.utils.config import compose_config, config_dir, fill_preprocessing

REPO = config_dir().parent
HYMENOPTERA = REPO.parent / "shared" / "data" / "hymenoptera_data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HYMENOPTERA, help="an ImageFolder root")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_classify.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            "data=imagefolder",
            f"data.root={args.data}",
            f"data.batch_size={args.batch_size}",
            f"data.num_workers={args.num_workers}",
            f"trainer.max_epochs={args.epochs}",
            "trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
            "trainer.accelerator=cpu",
            "test=false",
            "extras.print_config=false",
        ]
        cfg = compose_config("train", overrides, Path(tmp) / "probe")
        fill_preprocessing(cfg)
        datamodule = build_datamodule(cfg.data, cfg.task.name)
        model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        plain = plain_classification_loop(datamodule, model_cfg, cfg.task.optimizer.lr, args.epochs)
        framework = visionlab_run(overrides, Path(tmp) / "visionlab")

    plain_speed = statistics.mean(plain[1:] or plain)
    framework_speed = statistics.mean(framework[1:] or framework)
    result = {
        "benchmark": "classification training throughput",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "torch": torch.__version__,
        "model": cfg.model.backbone.name,
        "data": str(args.data),
        "train_images": len(datamodule.datasets["train"]),
        "image_size": cfg.data.image_size,
        "batch_size": args.batch_size,
        "num_workers": args.num_workers,
        "epochs": args.epochs,
        "plain_img_per_s_per_epoch": plain,
        "visionlab_img_per_s_per_epoch": framework,
        "plain_img_per_s": round(plain_speed, 2),
        "visionlab_img_per_s": round(framework_speed, 2),
        "ratio": round(framework_speed / plain_speed, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
