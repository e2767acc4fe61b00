"""Loader speed of a stream against the folder source it was written from: the same images,
transforms, batch size and workers, each data module's own training loader, in interleaved
rounds (folder, stream, folder, ...), JSON out.

    python scripts/bench_stream.py [--rounds 6] [--batches 20] [--num-workers 2] [--out FILE]

The stream is a local folder written by `python -m visionlab.data.stream write` (in its own
process, as a user would) from hymenoptera (classification, 224 px) and raccoon (detection,
384 px).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import bootstrap_median, loader_speed, machine_info, probe, write_result

from visionlab.utils.config import config_dir

REPO = config_dir().parent
DATASETS = {
    "classify/hymenoptera": ("experiment=hymenoptera", "data=imagefolder"),
    "detect/raccoon": ("experiment=raccoon_faster_rcnn", "data=csv_boxes"),
}


def write_stream(experiment: str, data: str, out: Path) -> None:
    command = [
        sys.executable, "-m", "visionlab.data.stream", "write", experiment, data, f"out={out}",
        f"hydra.run.dir={out.parent / 'write'}",
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds of each source")
    parser.add_argument("--batches", type=int, default=20, help="batches per round")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench_stream.json")
    args = parser.parse_args()
    result = {
        "benchmark": "stream loader speed",
        **machine_info("cpu"),
        "num_workers": args.num_workers,
        "batches_per_round": args.batches,
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (experiment, data) in DATASETS.items():
            stream = Path(tmp) / name.replace("/", "_") / "stream"
            write_stream(experiment, data, stream)
            common = [experiment, f"data.num_workers={args.num_workers}"]
            modules = {
                "folder": probe(common, Path(tmp) / "folder")[1],
                "stream": probe([*common, "data=stream", f"data.uri={stream}"], stream.parent)[1],
            }
            speeds: dict[str, list[float]] = {"folder": [], "stream": []}
            for round_ in range(args.rounds + 1):  # the first round warms up
                for source, datamodule in modules.items():
                    speed = loader_speed(
                        datamodule, args.batches, make_loader=lambda dm: dm.train_dataloader()
                    )
                    if round_:
                        speeds[source].append(round(speed, 2))
            ratios = [s / f for s, f in zip(speeds["stream"], speeds["folder"], strict=True)]
            median, low, high = bootstrap_median(ratios)
            result["datasets"][name] = {
                "folder_img_per_s": round(statistics.median(speeds["folder"]), 1),
                "stream_img_per_s": round(statistics.median(speeds["stream"]), 1),
                "ratio": round(median, 3),
                "ratio_ci95": [round(low, 3), round(high, 3)],
                "per_round": speeds,
            }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
