"""Optimizers with parameter groups, and step-wise LR schedules."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from visionlab.errors import ConfigError

OPTIMIZERS = ("adamw", "sgd")
LR_SCALING = ("linear", "sqrt", "none")
SCHEDULERS = ("cosine", "onecycle", "plateau", "none")


def parameter_groups(
    model: nn.Module, lr: float, weight_decay: float, backbone_lr_mult: float
) -> list[dict]:
    """Split trainable parameters into backbone/head x decay/no-decay groups.

    Norm weights and biases (every 1-D parameter) get no weight decay; backbone parameters
    get `lr * backbone_lr_mult`.
    """
    prefix = getattr(model, "backbone_prefix", "backbone.")
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "backbone" if name.startswith(prefix) else "head"
        groups.setdefault((part, param.ndim > 1), []).append(param)
    return [
        {
            "name": f"{part}{'' if decay else '_no_decay'}",
            "params": params,
            "lr": lr * (backbone_lr_mult if part == "backbone" else 1.0),
            "weight_decay": weight_decay if decay else 0.0,
        }
        for (part, decay), params in sorted(groups.items())
    ]


def scaled_lr(lr: float, rule: str, global_batch: int, reference_batch: int) -> float:
    """`lr`, given for `reference_batch` images per step, for `global_batch`: times their
    ratio (`linear`), its square root (`sqrt`), or unchanged (`none`)."""
    if rule not in LR_SCALING:
        raise ConfigError(
            f"task.optimizer.scale_lr={rule!r}; choose one of {', '.join(LR_SCALING)}"
        )
    ratio = global_batch / reference_batch
    return lr * {"linear": ratio, "sqrt": math.sqrt(ratio), "none": 1.0}[rule]


def build_optimizer(groups: list[dict], name: str, momentum: float = 0.9, **_: object):
    """`name`'s optimizer over the parameter groups (other keys: the LR scaling's)."""
    if name == "adamw":
        return torch.optim.AdamW(groups)
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=momentum, nesterov=True)
    raise ConfigError(f"task.optimizer.name={name!r}; choose one of {', '.join(OPTIMIZERS)}")


def cosine_with_warmup(total_steps: int, warmup_steps: int, min_lr_ratio: float):
    """LR factor per step: linear warmup from ~0 to 1, then cosine decay to `min_lr_ratio`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    name: str,
    total_steps: float,
    max_epochs: int,
    monitor: str,
    mode: str,
    warmup_epochs: float = 1.0,
    min_lr_ratio: float = 0.01,
    pct_start: float = 0.3,
    patience: int = 3,
    factor: float = 0.1,
) -> dict | None:
    """A Lightning `lr_scheduler` config dict, or None for `name='none'`."""
    if name == "none":
        return None
    if name == "plateau":
        scheduler = ReduceLROnPlateau(optimizer, mode=mode, patience=patience, factor=factor)
        return {"scheduler": scheduler, "monitor": monitor, "interval": "epoch"}
    if not math.isfinite(total_steps) or max_epochs is None or max_epochs < 1:
        raise ConfigError(f"scheduler '{name}' needs a finite trainer.max_epochs")
    total = int(total_steps)
    scheduler: LRScheduler
    if name == "cosine":
        warmup = int(round(warmup_epochs * total / max_epochs))
        scheduler = LambdaLR(optimizer, cosine_with_warmup(total, warmup, min_lr_ratio))
    elif name == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        scheduler = OneCycleLR(optimizer, max_lr=max_lr, total_steps=total, pct_start=pct_start)
    else:
        raise ConfigError(f"task.scheduler.name={name!r}; choose one of {', '.join(SCHEDULERS)}")
    return {"scheduler": scheduler, "interval": "step"}
