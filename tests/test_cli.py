"""The root entry points as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from tests.conftest import FAST, REPO


def run(script: str, *overrides: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_incompatible_task_model_fails_without_traceback(tmp_path):
    result = run("train.py", "task=detect", "model=efficientnet_lite0", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "cannot serve task=detect" in output and "Traceback" not in output
    assert "Models for task=detect: faster_rcnn, fcos, retinanet, sliding_window, yolov1" in output


def test_missing_data_root_is_named(tmp_path):
    result = run("train.py", "data=imagefolder", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "needs a value for root: add data.root=..." in output and "Traceback" not in output


def test_ddp_sim_unfreeze_at_trains_and_resumes(tmp_path, data_dir):
    common = [
        *FAST,
        f"paths.data_dir={data_dir}",
        "trainer=ddp_sim",
        "finetune=unfreeze_at",
        "finetune.unfreeze_epoch=1",
        "test=false",
    ]
    first = run("train.py", *common, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'a'}")
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert 0.0 <= results["metrics"]["val/acc"] <= 1.0

    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    resumed = run(
        "train.py",
        *common,
        "trainer.max_epochs=3",
        f"ckpt_path={last}",
        f"hydra.run.dir={tmp_path / 'b'}",
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 2
