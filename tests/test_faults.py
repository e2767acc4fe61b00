"""Faults during training: non-finite losses, killed runs, interrupted checkpoint writes and
checkpoints that need pickle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from visionlab.cli.train import train
from visionlab.errors import TrainingError, WeightsError
from visionlab.utils.checkpoint import SafeCheckpointIO, load_model, read_checkpoint

from .conftest import (
    FAST,
    assert_same_outcome,
    kill_and_resume,
    run_python,
    train_in_one_process,
)


def _poison_loss(monkeypatch, when, factor: float) -> None:
    """Multiply the classification loss by `factor` (NaN, inf) on steps where `when(task)`."""
    from visionlab.tasks.classification import ClassificationTask

    model_step = ClassificationTask.model_step

    def poisoned(self, batch):
        loss, preds, targets = model_step(self, batch)
        return (loss * factor if when(self) else loss), preds, targets

    monkeypatch.setattr(ClassificationTask, "model_step", poisoned)


def test_nonfinite_loss_stops_naming_the_step_and_the_last_good_checkpoint(make_cfg, monkeypatch):
    _poison_loss(monkeypatch, lambda task: task.current_epoch == 1, torch.nan)
    cfg = make_cfg("trainer.max_epochs=3", "test=false")
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    with pytest.raises(TrainingError, match=r"loss is nan at step 3 \(epoch 1, batch 0\)") as err:
        train(cfg)
    assert str(last) in str(err.value)
    weights = read_checkpoint(last)["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


def test_nonfinite_loss_can_skip_the_batch(make_cfg, monkeypatch):
    _poison_loss(monkeypatch, lambda task: task.global_step == 1, torch.inf)
    cfg = make_cfg("trainer.max_epochs=2", "test=false", "task.nonfinite_loss=skip")
    assert train(cfg) > 0.5
    weights = load_model(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt").state_dict()
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


def test_checkpoints_with_nonfinite_weights_are_not_written(make_cfg):
    from visionlab.cli.common import build_datamodule, build_task, build_trainer
    from visionlab.utils.config import fill_preprocessing

    cfg = make_cfg()
    fill_preprocessing(cfg)
    task = build_task(cfg, build_datamodule(cfg.data, "classify"))
    trainer = build_trainer(cfg, Path(cfg.paths.output_dir))
    trainer.strategy.connect(task)
    with torch.no_grad():
        next(task.model.parameters()).fill_(torch.nan)
    path = Path(cfg.paths.output_dir) / "nan.ckpt"
    with pytest.raises(TrainingError, match="refusing to write a checkpoint"):
        trainer.save_checkpoint(path)
    assert not path.exists()


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = SafeCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    real_save = torch.save

    def crash_midway(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_checkpoints_that_need_pickle_are_refused_unless_trusted(make_cfg, tmp_path):
    from argparse import Namespace

    cfg = make_cfg("trainer.max_epochs=1", "test=false", "trainer.limit_train_batches=1")
    train(cfg)
    checkpoint = torch.load(Path(cfg.paths.output_dir) / "checkpoints/best.ckpt")
    checkpoint["extra"] = Namespace(note="a pickled object")
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save(checkpoint, unsafe)
    with pytest.raises(WeightsError, match="need pickle to load.*trust_checkpoint=true"):
        load_model(unsafe)
    assert load_model(unsafe, trusted=True).name == "classify"


def _train_overrides(data_dir: Path, *overrides: str) -> list[str]:
    return [
        *FAST, f"paths.data_dir={data_dir}", "test=false", "trainer.deterministic=true",
        "data.batch_size=8", "++data.options.counts={train:96,val:21,test:21}", *overrides,
    ]  # fmt: skip


def test_a_killed_run_resumes_its_weights_and_their_average_exactly_and_can_train_longer(
    tmp_path, data_dir
):
    """SIGKILL in the second epoch, resume: the run ends with the straight run's metrics, raw
    weights and EMA weights; resumed again with more epochs, it keeps its earlier history."""
    overrides = _train_overrides(
        data_dir, "trainer.max_epochs=3", "callbacks=[default,ema]", "callbacks.ema.warmup_steps=5"
    )
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    train_in_one_process(overrides, straight)
    kill_and_resume(overrides, killed)
    assert_same_outcome(straight, killed)

    run_python("train.py", f"resume={killed}", "trainer.max_epochs=4")
    assert read_checkpoint(killed / "checkpoints/last.ckpt")["epoch"] == 3
    epochs = {row.split(",")[0] for row in (killed / "metrics.csv").read_text().splitlines()[1:]}
    assert {"0", "1", "2", "3"} <= epochs, "the resumed run keeps the earlier metrics"
    assert len(json.loads((killed / "run.json").read_text())["resumed"]) == 2
