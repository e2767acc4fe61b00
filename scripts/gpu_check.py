"""GPU check: mixed precision, channels_last, DDP and training throughput against a plain
PyTorch loop with the same model, data and batch, written as JSON.

    python scripts/gpu_check.py [--out benchmarks/gpu_check.json]

Needs a CUDA GPU; runs in a few minutes on one. DDP runs over every visible GPU when there
are two or more, and as a one-GPU smoke test of the DDP code path otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from benchlib import (
    PlainLoop,
    classification_loss,
    interleaved_training,
    loader_speed,
    logged_speeds,
)

from visionlab.cli.common import build_datamodule
from visionlab.cli.train import train
from visionlab.utils.config import compose_config, config_dir, fill_preprocessing

REPO = config_dir().parent


def measure(run, *args):
    """What `run(*args)` returns and the peak GPU memory (GiB) it took."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    value = run(*args)
    return value, round(torch.cuda.max_memory_allocated() / 2**30, 2)


def visionlab_fp32(overrides: list[str], run_dir) -> float:
    """The median epoch img/s of a visionlab run after the first (a warm-up)."""
    train(compose_config("train", overrides, run_dir))
    return round(statistics.median(logged_speeds(run_dir)[1:]), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "gpu_check.json")
    parser.add_argument("--train-images", type=int, default=6144)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--num-workers", type=int, default=12)
    parser.add_argument("--steps", type=int, default=24, help="training batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each loop")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check.py needs a CUDA GPU; none is visible.")

    result: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0),
        "gpus_visible": torch.cuda.device_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "task": "classify",
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        common = [
            f"paths.data_dir={tmp / 'data'}",
            f"++data.options.counts={{train:{args.train_images},val:256,test:0}}",
            "data.image_size=224",
            "++data.options.image_size=128",
            f"data.batch_size={args.batch_size}",
            f"data.num_workers={args.num_workers}",
            "model.channels_last=true",
            f"trainer.max_epochs={args.rounds + 1}",
            f"trainer.limit_train_batches={args.steps}",
            "trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
            "extras.print_config=false",
            "test=false",
        ]
        started = time.perf_counter()
        cfg = compose_config("train", [*common, "trainer=gpu"], tmp / "probe")
        fill_preprocessing(cfg)
        datamodule = build_datamodule(cfg.data, cfg.task.name)
        datamodule.prepare_data()
        result["data_generation_s"] = round(time.perf_counter() - started, 1)
        result["train_images"] = args.train_images
        result["image_size"] = cfg.data.image_size
        result["model"] = cfg.model.backbone.name
        plain = PlainLoop(cfg, datamodule, classification_loss(cfg, datamodule), "cuda", bf16=True)
        bf16, both_mem = measure(
            interleaved_training,
            [*common, "trainer=gpu", "trainer.precision=bf16-mixed"],
            tmp / "bf16",
            plain,
            args.steps,
        )
        del plain
        fp32, fp32_mem = measure(
            visionlab_fp32, [*common, "trainer=gpu", "trainer.precision=32-true"], tmp / "fp32"
        )
        feed = loader_speed(datamodule, batches=30)
        result |= {
            "plain_bf16_img_per_s": bf16["plain_train_img_per_s"],
            "visionlab_bf16_img_per_s": bf16["visionlab_train_img_per_s"],
            "visionlab_fp32_img_per_s": fp32,
            "ratio_visionlab_vs_plain_bf16": bf16["train_ratio"],
            "ratio_ci95": bf16["train_ratio_ci95"],
            "bf16_speedup_over_fp32": round(bf16["visionlab_train_img_per_s"] / fp32, 2),
            "peak_memory_gib": {"plain_and_visionlab_bf16": both_mem, "fp32": fp32_mem},
            "loader_img_per_s": round(feed, 1),
            "loader_kept_gpu_fed": feed > 1.1 * bf16["visionlab_train_img_per_s"],
            "per_round": bf16["per_round"],
        }

        ddp_dir = tmp / "ddp"
        started = time.perf_counter()
        ddp = subprocess.run(
            [
                sys.executable,
                "train.py",
                *common,
                "trainer=ddp",
                "trainer.precision=bf16-mixed",
                "trainer.max_epochs=2",
                f"hydra.run.dir={ddp_dir}",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        result["ddp"] = {
            "devices": torch.cuda.device_count(),
            "ok": ddp.returncode == 0 and (ddp_dir / "checkpoints" / "last.ckpt").is_file(),
            "seconds": round(time.perf_counter() - started, 1),
            "error_tail": ddp.stderr[-1500:] if ddp.returncode else None,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
