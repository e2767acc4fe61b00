"""The detectors' first training losses, from one seed, against the values recorded before the
detector contract moved the losses into the models (`tests/data/first_losses.json`).

The runs are in float64: in float32, sums ordered differently by another CPU's kernels or thread
count differ in the last bits, and ten steps of training amplify that to several percent. In
float64 the same runs agree to about 1e-12 (relative) across thread counts."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest

from visionlab.cli.train import train

RECORDED = Path(__file__).parent / "data" / "first_losses.json"
STEPS = 10


class StepLosses(L.Callback):
    """The training loss of every step."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def first_losses(make_cfg, model: str) -> list[float]:
    """The first STEPS training losses of `model` on the shapes scenes, seed 0, no augmentation,
    with the detection task's optimizer, trained BatchNorm statistics and no gradient clipping
    (what the values were recorded with, before models had recipes), in float64."""
    losses = StepLosses()
    cfg = make_cfg(
        "task=detect", f"model={model}", "seed=0", "trainer.deterministic=true",
        "data.augment=none", "data.batch_size=4", "++data.options.counts={train:40,val:4,test:0}",
        "data.image_size=96", "++data.options.image_size=96", "trainer.max_epochs=1",
        f"trainer.limit_train_batches={STEPS}", "trainer.limit_val_batches=0", "test=false",
        "task.optimizer.name=adamw", "task.optimizer.lr=1e-3", "task.optimizer.weight_decay=5e-4",
        "finetune.norm=train", "trainer.gradient_clip_val=null", "trainer.precision=64-true",
    )  # fmt: skip
    train(cfg, callbacks=[losses])
    return losses.losses


@pytest.mark.parametrize("model", ["yolov1", "faster_rcnn"])
def test_first_training_losses_match_the_recorded_ones(make_cfg, model):
    recorded = json.loads(RECORDED.read_text())[model]
    assert first_losses(make_cfg, model) == pytest.approx(recorded, rel=1e-8)
