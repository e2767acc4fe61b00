"""The CamVid study: UNet vs FCN-8s vs FCN-32s (and any other segmentation models) trained
with one recipe (`experiment=camvid`) and one budget; best val mIoU and per-class IoU as JSON.

    python scripts/study_camvid.py [--data PATH] [--models unet fcn8s fcn32s]
        [--device cuda] [--out FILE.json] [-- extra overrides ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from visionlab.cli.train import train
from visionlab.utils.config import compose_config, config_dir

REPO = config_dir().parent
CAMVID = REPO.parent / "shared" / "data" / "camvid"


def per_epoch(metrics_csv: Path, key: str) -> list[float]:
    """`key` after each training epoch (the last row is the best checkpoint's re-validation)."""
    with metrics_csv.open() as f:
        return [round(float(r[key]), 4) for r in csv.DictReader(f) if r.get(key)][:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CAMVID)
    parser.add_argument("--models", nargs="+", default=["unet", "fcn8s", "fcn32s"])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--runs", type=Path, help="keep run folders here (default: temporary)")
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "camvid" / "study.json")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every run")
    args = parser.parse_args()

    result: dict = {
        "study": "camvid segmentation",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "recipe": ["experiment=camvid", *args.overrides],
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or Path(tmp)
        for model in args.models:
            run_dir = runs / model
            overrides = [
                "experiment=camvid",
                f"model={model}",
                f"data.root={args.data}",
                f"data.num_workers={args.num_workers}",
                f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
                "trainer.devices=1",
                "extras.print_config=false",
                *args.overrides,
            ]
            started = time.perf_counter()
            best = train(compose_config("train", overrides, run_dir))
            with (run_dir / "per_class_iou_val.csv").open() as f:
                per_class = {r["class"]: float(r["IoU"]) for r in csv.DictReader(f)}
            result["models"][model] = {
                "best_val_mIoU": round(best, 4),
                "val_mIoU_per_epoch": per_epoch(run_dir / "metrics.csv", "val/mIoU"),
                "val_IoU_per_class": per_class,
                "seconds": round(time.perf_counter() - started, 1),
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
