"""Segmentation speed: training img/s of UNet and FCN-32s/16s/8s against a plain PyTorch loop
with the same model, and inference img/s of each, in one command.

    python scripts/bench_segment.py [--data PATH] [--device cuda] [--out FILE.json]

Data: ../shared/data/camvid when present (`experiment=camvid`: 320 px training crops,
480 px evaluation frames), else the embedded shapes scenes. Training is timed in interleaved
rounds of `--steps` batches against the plain loop (see `benchlib`): the median per-round
ratio and its bootstrap 95% interval.
Inference times the model's forward pass and argmax on a batch of evaluation images; also
data-loader img/s and peak memory.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib import (
    add_common_arguments,
    benchmark_model,
    result_header,
    segmentation_loss,
    write_result,
)
from benchlib import short_training_overrides as short_training

from visionlab.utils.config import config_dir, models_for_task

REPO = config_dir().parent
CAMVID = REPO.parent / "shared" / "data" / "camvid"
MODELS = models_for_task("segment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CAMVID)
    add_common_arguments(parser, batch_size=8, steps=4)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_segment.json")
    args = parser.parse_args()
    camvid = args.data.is_dir()
    data = ["experiment=camvid", f"data.root={args.data}"] if camvid else ["task=segment"]

    result = result_header("segmentation speed", args) | {
        "data": str(args.data) if camvid else "shapes",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            overrides = [
                *data,
                f"model={model}",
                "task.loss.class_weights=null",
                *short_training(args),
            ]
            result["models"][model] = benchmark_model(
                overrides,
                Path(tmp) / model,
                args,
                segmentation_loss,
                predict=lambda task: lambda images: task(images).argmax(1),
            )
    write_result(result, args.out)


if __name__ == "__main__":
    main()
