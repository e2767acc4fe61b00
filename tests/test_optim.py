"""Parameter groups and LR schedules."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from visionlab.cli.train import train
from visionlab.models.classifier import Classifier
from visionlab.tasks.optim import build_optimizer, cosine_with_warmup, parameter_groups, scaled_lr


@pytest.fixture(scope="module")
def model():
    return Classifier(num_classes=4, backbone={"name": "resnet18"})


def test_groups_split_decay_and_backbone_lr(model):
    groups = {
        g["name"]: g
        for g in parameter_groups(model, lr=1e-3, weight_decay=0.05, backbone_lr_mult=0.1)
    }
    assert set(groups) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    assert groups["backbone"]["lr"] == pytest.approx(1e-4) and groups["head"]["lr"] == 1e-3
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0
    assert all(p.ndim <= 1 for p in groups["backbone_no_decay"]["params"])
    assert groups["head"]["params"][0] is model.head[-1].weight
    total = sum(len(g["params"]) for g in groups.values())
    assert total == len(list(model.parameters()))


def test_frozen_parameters_are_left_out(model):
    model.backbone.requires_grad_(False)
    try:
        names = {g["name"] for g in parameter_groups(model, 1e-3, 0.0, 1.0)}
        assert names == {"head", "head_no_decay"}
    finally:
        model.backbone.requires_grad_(True)


def test_cosine_with_warmup_shape():
    factor = cosine_with_warmup(total_steps=100, warmup_steps=10, min_lr_ratio=0.01)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.505, abs=1e-3)
    assert factor(100) == pytest.approx(0.01)
    values = [factor(s) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_sgd_and_adamw(model):
    groups = parameter_groups(model, 0.1, 0.0, 1.0)
    assert isinstance(build_optimizer(groups, "sgd"), torch.optim.SGD)
    assert isinstance(
        build_optimizer(parameter_groups(model, 0.1, 0.0, 1.0), "adamw"), torch.optim.AdamW
    )


def test_lr_scaling_rules():
    assert scaled_lr(0.1, "linear", 256, 64) == pytest.approx(0.4)
    assert scaled_lr(0.1, "sqrt", 256, 64) == pytest.approx(0.2)
    assert scaled_lr(0.1, "none", 256, 64) == 0.1


@pytest.mark.parametrize(("rule", "expected"), [("linear", 4e-3), ("sqrt", 2e-3), ("none", 1e-3)])
def test_lr_follows_the_global_batch(make_cfg, rule, expected):
    """Batches of 16, two per step: a global batch of 32 against the reference 8."""
    cfg = make_cfg(
        "task.optimizer.lr=1e-3", f"task.optimizer.scale_lr={rule}",
        "task.optimizer.reference_batch=8", "task.scheduler.name=none",
        "trainer.accumulate_grad_batches=2", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "test=false",
    )  # fmt: skip
    train(cfg)
    rows = list(csv.DictReader((Path(cfg.paths.output_dir) / "metrics.csv").open()))
    logged = [float(row["lr-AdamW/head"]) for row in rows if row.get("lr-AdamW/head")]
    assert logged and logged[0] == pytest.approx(expected)
