"""Two CPU processes over gloo (`trainer=ddp_sim`) against one process, and mixed precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from visionlab.cli.train import train
from visionlab.tasks.detection import map_metric

from .conftest import FAST, evaluate_in_one_process, random_detections, run_python

TASKS = {
    "classify": ("val/acc", []),
    "detect": ("val/mAP50", ["task=detect", "model=yolov1"]),
    "segment": ("val/mIoU", ["task=segment", "model=unet"]),
}


@pytest.mark.parametrize("task", TASKS)
def test_ddp_metrics_equal_single_process_metrics(tmp_path, data_dir, task):
    """21 validation images over 2 ranks (11 + 10): nothing may be counted twice, and the
    loss weighs every image once."""
    key, overrides = TASKS[task]
    run_dir = tmp_path / "ddp"
    run_python(
        "train.py", *FAST, *overrides, f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run_dir}", "trainer=ddp_sim", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "test=false",
    )  # fmt: skip
    ddp = json.loads((run_dir / "results.json").read_text())
    single = evaluate_in_one_process(ddp["best_checkpoint"], tmp_path / "single")
    assert ddp["metrics"][key] == pytest.approx(single[key], abs=1e-4)
    assert ddp["metrics"]["val/loss"] == pytest.approx(single["val/loss"], abs=1e-5)
    assert 0.0 <= single[key] <= 1.0  # detection: near 0 this early; see the sharded mAP test


def _sharded_map(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    preds, targets = random_detections(21)
    shard = range(0, 11) if rank == 0 else range(11, 21)  # uneven, as evaluation shards are
    metric = map_metric()
    metric.update([preds[i] for i in shard], [targets[i] for i in shard])
    result = metric.compute()
    if rank == 0:
        torch.save({k: result[k] for k in ("map", "map_50", "map_75")}, out)
    dist.destroy_process_group()


def test_sharded_map_over_uneven_ranks_equals_one_process(tmp_path):
    out = tmp_path / "map.pt"
    port = 29500 + int(torch.randint(0, 1000, (1,)))
    mp.spawn(_sharded_map, args=(2, port, str(out)), nprocs=2)
    preds, targets = random_detections(21)
    single = map_metric()
    single.update(preds, targets)
    expected = single.compute()
    sharded = torch.load(out)
    assert 0.05 < float(expected["map_50"]) < 0.95
    for key in sharded:
        assert float(sharded[key]) == pytest.approx(float(expected[key]), abs=1e-6)


@pytest.mark.parametrize("task", [*TASKS, "instance"])
def test_bf16_mixed_precision_runs_for_every_task(make_cfg, task):
    overrides = TASKS.get(task, (None, ["task=instance", "data.image_size=96"]))[1]
    cfg = make_cfg(*overrides, "trainer.precision=bf16-mixed", "trainer.fast_dev_run=true")
    train(cfg)
    assert (Path(cfg.paths.output_dir) / "config.yaml").is_file()


@pytest.mark.slow  # about 2 minutes of compilation on 2 CPU cores
def test_model_compile_trains_and_keeps_checkpoint_names(make_cfg):
    cfg = make_cfg("model.compile=true", "trainer.max_epochs=1", "test=false")
    train(cfg)
    names = torch.load(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt")["state_dict"]
    assert not any("_orig_mod" in name for name in names)
