"""Weight EMA (`callbacks=[default,ema]`): the averaged weights are the ones validated,
checkpointed, evaluated and exported, in one process and under DDP."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from visionlab.callbacks import EMA
from visionlab.cli.evaluate import evaluate
from visionlab.cli.export import export
from visionlab.cli.train import train
from visionlab.utils.checkpoint import load_model, read_checkpoint

from .conftest import FAST, evaluate_in_one_process, run_python

EMA_ON = ["callbacks=[default,ema]", "callbacks.ema.decay=0.9", "callbacks.ema.warmup_steps=1"]


def test_decay_warms_up_and_integer_buffers_follow_the_model():
    ema = EMA(decay=0.99, warmup_steps=10)
    assert ema.current_decay(0) == 0.0
    assert ema.current_decay(10) == pytest.approx(0.99 * (1 - math.exp(-1)))
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    ema._average(averaged, current, torch.tensor(10))
    assert torch.allclose(averaged[0], torch.full((3,), 1 - ema.current_decay(10)))
    counts = [torch.tensor(4)]
    ema._average(counts, [torch.tensor(9)], torch.tensor(10))
    assert int(counts[0]) == 9
    with pytest.raises(ValueError, match="decay=1.0"):
        EMA(decay=1.0)


def _raw_and_average(checkpoint: Path) -> tuple[dict, dict]:
    state = read_checkpoint(checkpoint)
    return state["current_model_state"], state["state_dict"]


def test_ema_weights_are_validated_checkpointed_evaluated_and_exported(make_cfg):
    cfg = make_cfg(*EMA_ON, "trainer.max_epochs=1", "test=false")
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    results = json.loads((run_dir / "results.json").read_text())
    raw, average = _raw_and_average(run_dir / "checkpoints/best.ckpt")
    assert raw.keys() == average.keys()
    assert any(not torch.equal(raw[k], average[k]) for k in raw if raw[k].is_floating_point())

    # Validation during training, after it, and evaluate.py all ran the average.
    during_fit = results["last_epoch"]["val/loss"]
    assert results["metrics"]["val/loss"] == pytest.approx(during_fit, abs=1e-6)
    best = f"ckpt_path={results['best_checkpoint']}"
    evaluated = evaluate(make_cfg(best, "split=val", name="eval"))
    assert evaluated["val/loss"] == pytest.approx(during_fit, abs=1e-6)

    exported = torch.jit.load(export(make_cfg(best, "format=torchscript", name="export")))
    task = load_model(results["best_checkpoint"])
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(exported(images), task.model(images), atol=1e-5)
        task.load_state_dict(raw)
        assert not torch.allclose(exported(images), task.model(images), atol=1e-5)


def test_ema_under_ddp_matches_one_process_evaluation(tmp_path, data_dir):
    """Each rank averages its own copy; equal copies make the 2-rank validation equal to one
    process evaluating rank 0's checkpoint."""
    run_dir = tmp_path / "ddp"
    run_python(
        "train.py", *FAST, *EMA_ON, f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}",
        "trainer=ddp_sim", "trainer.max_epochs=1", "test=false",
    )  # fmt: skip
    ddp = json.loads((run_dir / "results.json").read_text())
    raw, average = _raw_and_average(Path(ddp["best_checkpoint"]))
    assert any(not torch.equal(raw[k], average[k]) for k in raw if raw[k].is_floating_point())
    single = evaluate_in_one_process(ddp["best_checkpoint"], tmp_path / "single")
    assert ddp["metrics"]["val/loss"] == pytest.approx(single["val/loss"], abs=1e-5)
