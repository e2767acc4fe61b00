"""Shared pieces of the benchmark scripts: the plain PyTorch reference loop and a visionlab run
read back from its metrics.csv. Throughput is images per second from an epoch's first batch
request to its last optimizer step, in both."""

from __future__ import annotations

import contextlib
import csv
import itertools
import resource
import statistics
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from visionlab.cli.common import build_datamodule
from visionlab.cli.train import train
from visionlab.data import VisionDataModule
from visionlab.losses import YoloV1Loss
from visionlab.models import build_model
from visionlab.models.yolov1 import YOLOv1
from visionlab.ops.boxes import encode_yolo_targets
from visionlab.tasks.optim import parameter_groups
from visionlab.utils.config import compose_config, fill_preprocessing


def short_training_overrides(
    batch_size: int, num_workers: int, batches: int, device: str, epochs: int = 3
):
    """Config overrides for an `epochs`-epoch, `batches`-per-epoch training run on `device`
    with no validation or test: what the speed benchmarks time. Seed 0, as the plain loops, so
    both start from the same weights."""
    return [
        "seed=0",
        f"data.batch_size={batch_size}",
        f"data.num_workers={num_workers}",
        f"trainer.max_epochs={epochs}",
        f"trainer.limit_train_batches={batches}",
        "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0",
        f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        "test=false",
        "extras.print_config=false",
    ]


def probe(overrides: list[str], run_dir: Path):
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
        collate_fn=datamodule.collate_fn,
    )


def plain_classification_loop(
    datamodule: VisionDataModule,
    model_cfg: dict,
    lr: float,
    epochs: int,
    device: str = "cpu",
    bf16: bool = False,
    max_batches: int | None = None,
) -> list[float]:
    """Train with a hand-written loop (at most `max_batches` batches per epoch); return img/s
    per epoch."""
    L.seed_everything(0)
    loader = train_loader(datamodule)
    memory_format = (
        torch.channels_last if model_cfg.get("channels_last") else torch.contiguous_format
    )
    model = build_model(model_cfg, datamodule.num_classes).to(device, memory_format=memory_format)
    optimizer = torch.optim.AdamW(parameter_groups(model.train(), lr, 0.01, 1.0))
    autocast = (
        torch.autocast(device_type=device, dtype=torch.bfloat16)
        if bf16
        else contextlib.nullcontext()
    )
    speeds = []
    for _ in range(epochs):
        start = end = time.perf_counter()
        seen = 0
        for i, (images, labels) in enumerate(loader):
            if i == max_batches:
                break
            images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
            labels = labels.to(device, non_blocking=True)
            with autocast:
                loss = F.cross_entropy(model(images), labels, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(images)
            end = time.perf_counter()
        if device == "cuda":
            torch.cuda.synchronize()
            end = time.perf_counter()
        speeds.append(seen / (end - start))
    return speeds


def plain_loop(
    datamodule: VisionDataModule,
    model: torch.nn.Module,
    loss_fn,
    lr: float,
    epochs: int,
    max_batches: int,
    device: str = "cpu",
) -> list[float]:
    """A hand-written training loop over at most `max_batches` batches per epoch;
    `loss_fn(model, images, targets)` gives the loss. Returns img/s per epoch."""
    loader = train_loader(datamodule)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(parameter_groups(model, lr, 0.0005, 1.0))
    speeds = []
    for _ in range(epochs):
        start = end = time.perf_counter()
        seen = 0
        for i, (images, targets) in enumerate(loader):
            if i == max_batches:
                break
            images = images.to(device, non_blocking=True)
            if isinstance(targets, torch.Tensor):
                targets = targets.to(device, non_blocking=True)
            else:
                targets = [{k: t[k].to(device) for k in ("boxes", "labels")} for t in targets]
            loss = loss_fn(model, images, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(images)
            end = time.perf_counter()
        if device == "cuda":
            torch.cuda.synchronize()
            end = time.perf_counter()
        speeds.append(seen / (end - start))
    return speeds


def plain_detection_loop(
    datamodule: VisionDataModule,
    model_cfg: dict,
    loss_cfg: dict,
    lr: float,
    epochs: int,
    max_batches: int,
    device: str = "cpu",
) -> list[float]:
    """YOLOv1 with its loss, or Faster R-CNN with torchvision's own losses."""
    L.seed_everything(0)
    model = build_model(model_cfg, datamodule.num_classes)
    if isinstance(model, YOLOv1):
        yolo_loss = YoloV1Loss(model.b, **loss_cfg)

        def loss_fn(model, images, targets):
            encoded = encode_yolo_targets(targets, model.s, model.c, tuple(images.shape[-2:]))
            return yolo_loss(model(images), encoded)["loss"]
    else:

        def loss_fn(model, images, targets):
            return sum(model(images, targets).values())

    return plain_loop(datamodule, model, loss_fn, lr, epochs, max_batches, device)


def plain_segmentation_loop(
    datamodule: VisionDataModule,
    model_cfg: dict,
    lr: float,
    epochs: int,
    max_batches: int,
    device: str = "cpu",
) -> list[float]:
    """UNet / FCN with pixel-wise cross-entropy that skips the ignore index."""
    L.seed_everything(0)
    model = build_model(model_cfg, datamodule.num_classes)

    def loss_fn(model, images, masks):
        return F.cross_entropy(model(images), masks, ignore_index=datamodule.ignore_index)

    return plain_loop(datamodule, model, loss_fn, lr, epochs, max_batches, device)


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


def loader_speed(datamodule: VisionDataModule, batches: int, warmup: int = 5) -> float:
    """Images per second the train loader delivers with no model attached, after `warmup`
    batches (worker start-up) are discarded; the loader restarts when an epoch runs out."""
    loader = itertools.chain.from_iterable(itertools.repeat(train_loader(datamodule)))
    for _ in range(warmup):
        next(loader)
    start, seen = time.perf_counter(), 0
    for _ in range(batches):
        seen += len(next(loader)[0])
    return seen / (time.perf_counter() - start)


def steady(speeds: list[float]) -> float:
    """The mean img/s over the epochs after the first (a warm-up)."""
    return statistics.mean(speeds[1:] or speeds)


def training_speeds(plain: list[float], framework: list[float]) -> dict:
    """Plain-loop and visionlab steady img/s, their ratio, and the img/s of every epoch."""
    plain_speed, framework_speed = steady(plain), steady(framework)
    return {
        "plain_train_img_per_s": round(plain_speed, 2),
        "visionlab_train_img_per_s": round(framework_speed, 2),
        "train_ratio": round(framework_speed / plain_speed, 3),
        "per_epoch": {
            "plain": [round(v, 2) for v in plain],
            "visionlab": [round(v, 2) for v in framework],
        },
    }


def model_report(
    task: torch.nn.Module,
    image_size: int,
    inference: float,
    loader: float,
    plain: list[float],
    framework: list[float],
    device: str,
) -> dict:
    """One model's row of a speed benchmark (img/s rounded to 2 decimals)."""
    return {
        "parameters_m": round(sum(p.numel() for p in task.parameters()) / 1e6, 2),
        "train_image_size": image_size,
        "inference_img_per_s": round(inference, 2),
        "loader_img_per_s": round(loader, 2),
        **training_speeds(plain, framework),
        "peak_memory_mib": peak_memory_mib(device),
    }


def peak_memory_mib(device: str) -> float:
    """This process's peak memory so far, in MiB: what torch allocated on the GPU for `cuda`,
    the resident set size (data-loader workers not included) for `cpu`."""
    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def visionlab_run(overrides: list[str], run_dir: Path) -> list[float]:
    """Train with `train.py`'s code path; return the logged `train/img_per_s` per epoch."""
    train(compose_config("train", overrides, run_dir))
    with (run_dir / "metrics.csv").open() as f:
        return [float(r["train/img_per_s"]) for r in csv.DictReader(f) if r.get("train/img_per_s")]
