"""Classification speed: training img/s of visionlab against a plain PyTorch loop (same model,
data, batch, optimizer and precision), inference and data-loader img/s, and peak memory.

    python scripts/bench_classify.py [--data PATH] [--device cuda] [--out FILE.json]

Both loops fine-tune tf_efficientnet_lite0 (ImageNet weights) on the same train split,
transforms and DataLoader settings, in this one process, in interleaved rounds of `--steps`
batches (see `benchlib`): the median per-round ratio and its bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib import (
    add_common_arguments,
    benchmark_model,
    classification_loss,
    result_header,
    write_result,
)
from benchlib import short_training_overrides as short_training

from visionlab.utils.config import config_dir

REPO = config_dir().parent
HYMENOPTERA = REPO.parent / "shared" / "data" / "hymenoptera_data"
MODELS = ("efficientnet_lite0",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HYMENOPTERA, help="an ImageFolder root")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    add_common_arguments(parser, batch_size=16, steps=8)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_classify.json")
    args = parser.parse_args()

    result = result_header("classification speed", args) | {
        "data": str(args.data),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            overrides = [
                "data=imagefolder",
                f"data.root={args.data}",
                f"model={model}",
                *short_training(args),
            ]
            result["models"][model] = benchmark_model(
                overrides, Path(tmp) / model, args, classification_loss
            )
    write_result(result, args.out)


if __name__ == "__main__":
    main()
