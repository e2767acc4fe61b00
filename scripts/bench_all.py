"""Every benchmark in one command: `benchmarks/results.json` and `docs/benchmarks.md`.

    python scripts/bench_all.py [--device cuda] [--num-workers N] [--rounds N]
        [--parts classify detect segment map stream] [--results FILE.json] [--table FILE.md]

Runs bench_classify, bench_detect and bench_segment once per model, each in its own process
(so that peak memory is the model's own), then bench_map and bench_stream (CPU). On the 2-core
CPU development machine it takes about 45 minutes. With `--parts`, only those run; the other
parts are kept from the existing results file, and the table is written again from all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import machine_info

from visionlab.utils.config import models_for_task

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
BENCHES = {  # classification: the model with offline weights (the others need timm's hub)
    "classify": ("bench_classify.py", ("efficientnet_lite0",)),
    "detect": ("bench_detect.py", models_for_task("detect")),
    "segment": ("bench_segment.py", models_for_task("segment")),
}
PARTS = (*BENCHES, "map", "stream")
HEADER = ("date", "machine", "device", "torch_threads", "torch")
COLUMNS = (
    ("visionlab_train_img_per_s", "train img/s"),
    ("plain_train_img_per_s", "plain loop img/s"),
    ("train_ratio", "ratio (median)"),
    ("train_ratio_ci95", "ratio 95% interval"),
    ("inference_img_per_s", "inference img/s"),
    ("loader_img_per_s", "loader img/s"),
    ("peak_memory_mib", "peak memory (MiB)"),
)


def run_script(script: str, args: list[str], out: Path) -> dict:
    command = [sys.executable, str(SCRIPTS / script), *args, "--out", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _cell(value) -> str:
    if isinstance(value, list):
        return "–".join(str(v) for v in value)
    return str(value)


def markdown(results: dict) -> str:
    """docs/benchmarks.md: how the numbers were made, then the table."""
    header = ["task", "model", "train size", *(title for _, title in COLUMNS)]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python scripts/bench_all.py` (do not edit by hand) on "
        f"{results['date'][:10]}: {results['device']} ({results['machine']}, "
        f"{results['torch_threads']} torch threads, {results['num_workers']} data-loader "
        f"workers), torch {results['torch']}.",
        "",
        "Training speed is compared in interleaved rounds in one process: a plain PyTorch loop "
        "and visionlab (`train.py`'s code path) train in turn (plain, visionlab, plain, ...) "
        f"for {results['rounds']} timed rounds each after one warm-up round, each round a "
        "fixed number of batches, with the same model, data, DataLoader settings, optimizer "
        "and precision. A round's img/s runs from its first batch request to its last "
        "optimizer step (data loading included); the img/s columns are the median rounds; "
        "ratio = visionlab / plain loop per round, its median and a bootstrap 95% interval "
        "of that median. Inference img/s is the model's forward pass "
        "(and decoding) on a batch of evaluation images; loader img/s is the training "
        "DataLoader alone at the training resolution; peak memory is the process's resident "
        "set on CPU, torch's peak allocation on GPU. Per-script details: `scripts/bench_*.py`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for task, models in results["tasks"].items():
        for model, row in models.items():
            cells = [task, model, str(row.get("train_image_size", "")), *(
                _cell(row.get(key, "")) for key, _ in COLUMNS
            )]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    below = [
        f"{task}/{model}"
        for task, models in results["tasks"].items()
        for model, row in models.items()
        if row["train_ratio_ci95"][1] < 0.95
    ]
    lines += [
        "",
        "Models whose whole interval lies below 0.95: " + (", ".join(below) or "none") + ".",
    ]
    notes = REPO / "benchmarks" / "notes.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    timing = results["map"]
    lines += [
        "",
        f"Detection mAP on {timing['images']} synthetic images ({timing['classes']} classes, "
        f"{timing['detections_per_image']} detections each): update {timing['update_s']} s, "
        f"compute() {timing['compute_s']} s.",
    ]
    if "stream" in results:
        lines += stream_table(results["stream"])
    return "\n".join(lines) + "\n"


def stream_table(stream: dict) -> list[str]:
    lines = [
        "",
        "## Streams",
        "",
        "Training-loader img/s of a local stream (`data=stream`, written by `python -m "
        "visionlab.data.stream write`) against the folder source it was written from: the "
        "same images, transforms and settings, each data module's own loader, measured "
        f"{stream['date'][:10]} on {stream['device']} ({stream['machine']}), "
        f"{len(next(iter(stream['datasets'].values()))['per_round']['folder'])} interleaved "
        f"rounds of {stream['batches_per_round']} batches, {stream['num_workers']} workers "
        "(`scripts/bench_stream.py`).",
        "",
        "| data | folder img/s | stream img/s | ratio (median) | ratio 95% interval |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in stream["datasets"].items():
        cells = [name, row["folder_img_per_s"], row["stream_img_per_s"], row["ratio"]]
        lines.append("| " + " | ".join(map(str, [*cells, _cell(row["ratio_ci95"])])) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--num-workers", type=int, default=2, help="training data-loader workers, both loops"
    )
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds of each loop")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results.json")
    parser.add_argument("--table", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS)
    args = parser.parse_args()
    kept = json.loads(args.results.read_text()) if args.results.is_file() else {}
    training = any(task in args.parts for task in BENCHES) or not kept
    results: dict = {  # the header describes the training table's runs
        **(machine_info(args.device) if training else {k: kept[k] for k in HEADER}),
        "num_workers": args.num_workers if training else kept["num_workers"],
        "rounds": args.rounds if training else kept["rounds"],
        "tasks": {task: kept.get("tasks", {}).get(task, {}) for task in BENCHES},
        **{part: kept[part] for part in ("map", "stream") if part in kept},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for task, (script, models) in BENCHES.items():
            if task not in args.parts:
                continue
            rows = results["tasks"][task] = {}
            for model in models:
                out = Path(tmp) / f"{task}-{model}.json"
                options = ["--models", model, "--device", args.device, "--rounds", str(args.rounds)]
                report = run_script(script, [*options, "--num-workers", str(args.num_workers)], out)
                rows[model] = report["models"][model]
        if "map" in args.parts:
            results["map"] = run_script("bench_map.py", [], Path(tmp) / "map.json")
        if "stream" in args.parts:
            options = ["--rounds", str(args.rounds), "--num-workers", str(args.num_workers)]
            results["stream"] = run_script("bench_stream.py", options, Path(tmp) / "stream.json")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2))
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(markdown(results))
    print(args.table.read_text())


if __name__ == "__main__":
    main()
