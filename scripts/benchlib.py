"""Shared pieces of the benchmark scripts.

Training speed is compared in interleaved rounds: in one process, a plain PyTorch loop and
visionlab (`train.py`'s code path) train in turn, `steps` batches each (plain, visionlab,
plain, visionlab, ...), with the same data set, DataLoader settings, model, optimizer and
precision, so that the machine's drift hits both alike. A round's throughput is images per
second from its first batch request to its last optimizer step. The first round of each is a
warm-up; the result is the median of the per-round ratios (visionlab / plain) with a bootstrap
95% interval.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from visionlab.callbacks.speed import TrainSpeed
from visionlab.cli.common import build_datamodule, build_task
from visionlab.cli.train import train
from visionlab.data import VisionDataModule
from visionlab.models import build_model
from visionlab.tasks.optim import build_optimizer, parameter_groups
from visionlab.utils.config import compose_config, fill_preprocessing

LossFn = Callable[[torch.nn.Module, torch.Tensor, object], torch.Tensor]


def add_common_arguments(parser: argparse.ArgumentParser, batch_size: int, steps: int) -> None:
    """The options every speed benchmark takes."""
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--steps", type=int, default=steps, help="training batches per round")
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds of each loop")
    parser.add_argument("--repeats", type=int, default=5, help="timed inference batches")
    parser.add_argument("--num-workers", type=int, default=2, help="loader workers, both loops")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")


def machine_info(device: str) -> dict:
    """When and where a benchmark ran: date, machine, device, torch threads and version."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def result_header(benchmark: str, args: argparse.Namespace) -> dict:
    """What every benchmark's JSON starts with: the machine, the software and the settings."""
    return {
        "benchmark": benchmark,
        **machine_info(args.device),
        "batch_size": args.batch_size,
        "num_workers": args.num_workers,
        "steps_per_round": args.steps,
        "models": {},
    }


def write_result(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def short_training_overrides(args: argparse.Namespace) -> list[str]:
    """Config overrides for a training run of `rounds + 1` epochs of `steps` batches on
    `device`, with no validation or test: what the speed benchmarks time. Seed 0, as the
    plain loops, so both start from the same weights."""
    return [
        "seed=0",
        f"data.batch_size={args.batch_size}",
        f"data.num_workers={args.num_workers}",
        f"trainer.max_epochs={args.rounds + 1}",
        f"trainer.limit_train_batches={args.steps}",
        "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0",
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        "test=false",
        "extras.print_config=false",
    ]


def probe(overrides: list[str], run_dir: Path) -> tuple[DictConfig, VisionDataModule]:
    """The composed config and the set-up data module for `overrides`."""
    cfg = compose_config("train", overrides, run_dir)
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, cfg.task.name)
    datamodule.setup("fit")
    return cfg, datamodule


def train_loader(datamodule: VisionDataModule) -> DataLoader:
    """The train loader a hand-written loop would build from the same dataset and settings."""
    datamodule.setup("fit")
    return DataLoader(
        datamodule.datasets["train"],
        batch_size=datamodule.batch_size,
        shuffle=True,
        num_workers=datamodule.num_workers,
        pin_memory=datamodule.pin_memory,
        persistent_workers=datamodule.num_workers > 0,
        collate_fn=datamodule.collate(train=True),
    )


# --- the plain loop and its losses --------------------------------------------------------------
def classification_loss(cfg: DictConfig, datamodule: VisionDataModule) -> LossFn:
    smoothing = float(cfg.task.get("label_smoothing", 0.0))
    return lambda model, images, labels: F.cross_entropy(
        model(images), labels, label_smoothing=smoothing
    )


def detection_loss(cfg: DictConfig, datamodule: VisionDataModule) -> LossFn:
    """A detector's own losses (torchvision's contract), summed."""
    return lambda model, images, targets: sum(model(images, targets).values())


def segmentation_loss(cfg: DictConfig, datamodule: VisionDataModule) -> LossFn:
    return lambda model, images, masks: F.cross_entropy(
        model(images), masks, ignore_index=datamodule.ignore_index
    )


class PlainLoop:
    """A hand-written training loop: the model built from `cfg.model` (seed 0), the task's
    optimizer on the same parameter groups, autocast to bfloat16 when `bf16`. Each `round`
    trains `steps` batches and returns its img/s."""

    def __init__(
        self,
        cfg: DictConfig,
        datamodule: VisionDataModule,
        loss_fn: LossFn,
        device: str = "cpu",
        bf16: bool = False,
    ) -> None:
        L.seed_everything(0, verbose=False)
        model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        self.memory_format = (
            torch.channels_last if model_cfg.get("channels_last") else torch.contiguous_format
        )
        self.model = build_model(model_cfg, datamodule.num_classes)
        self.model.to(device, memory_format=self.memory_format).train()
        optimizer_cfg = OmegaConf.to_container(cfg.task.optimizer, resolve=True)
        groups = parameter_groups(
            self.model, optimizer_cfg.pop("lr"), optimizer_cfg.pop("weight_decay", 0.0), 1.0
        )
        self.optimizer = build_optimizer(groups, **optimizer_cfg)
        self.loader = train_loader(datamodule)
        self.loss_fn, self.device = loss_fn, device
        self.autocast = (
            torch.autocast(device_type=device, dtype=torch.bfloat16)
            if bf16
            else contextlib.nullcontext()
        )

    def _to_device(self, targets):
        """Every tensor of the targets on the device, as Lightning moves a batch."""
        if isinstance(targets, torch.Tensor):
            return targets.to(self.device, non_blocking=True)
        return [
            {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
            for t in targets
        ]

    def round(self, steps: int) -> float:
        start = end = time.perf_counter()
        seen = 0
        for images, targets in itertools.islice(self.loader, steps):
            images = images.to(self.device, non_blocking=True)
            images = images.contiguous(memory_format=self.memory_format)
            with self.autocast:
                loss = self.loss_fn(self.model, images, self._to_device(targets))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            seen += len(images)
            end = time.perf_counter()
        if self.device == "cuda":
            torch.cuda.synchronize()
            end = time.perf_counter()
        return seen / (end - start)


class PlainRounds(L.Callback):
    """Runs one round of the plain loop as each visionlab epoch starts, before visionlab's
    own timer (it must come first among the callbacks)."""

    def __init__(self, plain: PlainLoop, steps: int) -> None:
        self.plain, self.steps = plain, steps
        self.speeds: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        timers = [i for i, c in enumerate(trainer.callbacks) if isinstance(c, TrainSpeed)]
        if timers and timers[0] < trainer.callbacks.index(self):
            raise RuntimeError("PlainRounds must run before TrainSpeed starts its timer")
        self.speeds.append(self.plain.round(self.steps))


def logged_speeds(run_dir: Path) -> list[float]:
    """`train/img_per_s` of every epoch of the run in `run_dir`."""
    with (run_dir / "metrics.csv").open() as f:
        return [float(r["train/img_per_s"]) for r in csv.DictReader(f) if r.get("train/img_per_s")]


def interleaved_training(overrides: list[str], run_dir: Path, plain: PlainLoop, steps: int) -> dict:
    """visionlab's training run with a plain-loop round before each epoch; their comparison."""
    rounds = PlainRounds(plain, steps)
    train(compose_config("train", overrides, run_dir), callbacks=[rounds])
    return compare_rounds(rounds.speeds, logged_speeds(run_dir))


def bootstrap_median(values: list[float], resamples: int = 10_000, seed: int = 0) -> tuple:
    """The median of `values` and a percentile-bootstrap 95% interval for it."""
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(data, size=(resamples, len(data)), replace=True), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(np.median(data)), float(low), float(high)


def compare_rounds(plain: list[float], framework: list[float], warmup: int = 1) -> dict:
    """Per-round img/s of both loops (after `warmup` rounds), the per-round ratios, their
    median and its 95% interval."""
    pairs = list(zip(plain, framework, strict=True))[warmup:]
    ratios = [f / p for p, f in pairs]
    median, low, high = bootstrap_median(ratios)
    return {
        "plain_train_img_per_s": round(statistics.median(p for p, _ in pairs), 2),
        "visionlab_train_img_per_s": round(statistics.median(f for _, f in pairs), 2),
        "train_ratio": round(median, 3),
        "train_ratio_ci95": [round(low, 3), round(high, 3)],
        "rounds": len(pairs),
        "per_round": {  # 4 significant digits: a slow round can run below 1 img/s
            "plain": [float(f"{p:.4g}") for p, _ in pairs],
            "visionlab": [float(f"{f:.4g}") for _, f in pairs],
            "ratio": [float(f"{r:.4g}") for r in ratios],
        },
    }


# --- inference, loader and memory ---------------------------------------------------------------
@torch.no_grad()
def inference_speed(predict, images: torch.Tensor, repeats: int) -> float:
    """Images per second of `predict(images)` after one warm-up call (on the images' device)."""
    synchronize = torch.cuda.synchronize if images.is_cuda else lambda: None
    predict(images)
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        predict(images)
    synchronize()
    return repeats * len(images) / (time.perf_counter() - start)


def loader_speed(
    datamodule: VisionDataModule,
    batches: int,
    warmup: int = 5,
    make_loader: Callable[[VisionDataModule], DataLoader] = train_loader,
) -> float:
    """Images per second a train loader (`make_loader(datamodule)`, by default the one a plain
    loop would build) delivers with no model attached, after `warmup` batches (worker
    start-up) are discarded; the loader restarts when an epoch runs out."""
    loader = itertools.chain.from_iterable(itertools.repeat(make_loader(datamodule)))
    for _ in range(warmup):
        next(loader)
    start, seen = time.perf_counter(), 0
    for _ in range(batches):
        seen += len(next(loader)[0])
    return seen / (time.perf_counter() - start)


def peak_memory_mib(device: str) -> float:
    """This process's peak memory so far, in MiB: what torch allocated on the GPU for `cuda`,
    the resident set size (data-loader workers not included) for `cpu`."""
    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def eval_images(datamodule: VisionDataModule, count: int) -> torch.Tensor:
    """The first `count` validation images (repeated when the split is smaller)."""
    val = datamodule.datasets["val"]
    return torch.stack([val[i % len(val)][0] for i in range(count)])


def benchmark_model(
    overrides: list[str],
    work_dir: Path,
    args: argparse.Namespace,
    loss: Callable[[DictConfig, VisionDataModule], LossFn],
    predict: Callable[[torch.nn.Module], Callable] = lambda task: task,
    inference_batch: int | None = None,
    task: L.LightningModule | None = None,
) -> dict:
    """One model's row of a speed benchmark: inference img/s of `predict(task)` on a batch of
    validation images, loader img/s, the interleaved training comparison (the plain loop
    trained with `loss`), parameters and peak memory. `task` defaults to an untrained one."""
    cfg, datamodule = probe(overrides, work_dir / "probe")
    task = (task or build_task(cfg, datamodule)).eval().to(args.device)
    images = eval_images(datamodule, inference_batch or args.batch_size).to(args.device)
    inference = inference_speed(predict(task), images, args.repeats)
    loader = loader_speed(datamodule, batches=args.steps)
    plain = PlainLoop(cfg, datamodule, loss(cfg, datamodule), args.device)
    training = interleaved_training(overrides, work_dir / "run", plain, args.steps)
    return {
        "parameters_m": round(sum(p.numel() for p in task.parameters()) / 1e6, 2),
        "train_image_size": cfg.data.image_size,
        "eval_image_size": list(images.shape[-2:]),
        "inference_img_per_s": round(inference, 2),
        "loader_img_per_s": round(loader, 2),
        **training,
        "peak_memory_mib": peak_memory_mib(args.device),
    }
