"""Hydra multiruns: one folder per job, the comparison table, Optuna, and failed jobs that
leave the sweep running."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import FAST, REPO

SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "test=false"]


def _multirun(sweep_dir: Path | None, data_dir: Path, *overrides: str) -> str:
    """`train.py -m`; without `sweep_dir`, Hydra picks the sweep folder from the config."""
    sweep = [f"hydra.sweep.dir={sweep_dir}"] if sweep_dir else []
    command = [
        sys.executable, "train.py", "-m", *FAST, *SHORT, f"paths.data_dir={data_dir}",
        *sweep, *overrides,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _comparison(sweep_dir: Path) -> list[dict]:
    with (sweep_dir / "comparison.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def test_grid_multirun_writes_a_folder_per_job_and_the_comparison(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    _multirun(sweep, data_dir, "task.optimizer.lr=1e-4,3e-3")
    for job in ("0", "1"):
        assert json.loads((sweep / job / "results.json").read_text())["metrics"]["val/acc"] > 0
    rows = _comparison(sweep)
    assert [float(r["task.optimizer.lr"]) for r in rows] == [1e-4, 3e-3]
    assert all(r["status"] == "done" and float(r["best val/acc"]) > 0 for r in rows)
    assert all(float(r["train img/s"]) > 0 and int(r["params"]) > 1e6 for r in rows)
    assert "| task.optimizer.lr |" in (sweep / "comparison.md").read_text()
    assert (sweep / "comparison.png").stat().st_size > 5000


def test_the_default_sweep_folder_is_under_the_log_dir(tmp_path, data_dir):
    _multirun(None, data_dir, f"paths.log_dir={tmp_path}", "seed=1,2")
    (sweep,) = (tmp_path / "multirun").iterdir()
    assert [r["seed"] for r in _comparison(sweep)] == ["1", "2"]


def test_optuna_sweep_reports_the_best_params(tmp_path, data_dir):
    sweep = tmp_path / "optuna"
    _multirun(
        sweep, data_dir, "hparams_search=classify_optuna", "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=3",
    )  # fmt: skip
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {
        "task.optimizer.lr", "task.optimizer.weight_decay", "task.label_smoothing", "data.augment",
    }  # fmt: skip
    assert 0 < best["best_value"] <= 1
    assert len(_comparison(sweep)) == 3


def test_a_failed_job_is_recorded_and_the_sweep_goes_on(tmp_path, data_dir):
    """`-m` with a DDP strategy that re-runs the command is refused, for that job only."""
    sweep = tmp_path / "sweep"
    output = _multirun(sweep, data_dir, "trainer=ddp_sim,default")
    failure = json.loads((sweep / "0" / "failed.json").read_text())
    assert "would re-run the whole sweep" in failure["error"]
    assert "trainer=ddp_sim" in failure["overrides"]
    assert (sweep / "1" / "results.json").is_file()
    assert [r["status"].split(":")[0] for r in _comparison(sweep)] == ["failed", "done"]
    assert "Traceback" not in output


def test_a_submitit_sweep_runs_a_ddp_job_and_a_one_process_job(tmp_path, data_dir):
    """Through submitit's local executor (the job path of the SLURM launcher), a DDP job is
    one job of 2 tasks that form its process group; the one-process job runs in its first
    task. Both job folders and the comparison table are written."""
    sweep = tmp_path / "sweep"
    _multirun(
        sweep, data_dir, "hydra/launcher=local", "hydra.launcher.tasks_per_node=2",
        "trainer=default,ddp_sim", "trainer.accelerator=cpu",
    )  # fmt: skip
    for job in ("0", "1"):
        assert json.loads((sweep / job / "results.json").read_text())["metrics"]["val/acc"] > 0
    assert [r["status"] for r in _comparison(sweep)] == ["done", "done"]
    assert any((sweep / ".submitit").iterdir()), "the jobs went through submitit"
    assert "stands down" in (sweep / "0" / "train.log").read_text()


def test_submitit_records_a_failed_job_and_refuses_a_task_count_that_does_not_fit(
    tmp_path, data_dir
):
    sweep = tmp_path / "sweep"
    _multirun(
        sweep, data_dir, "hydra/launcher=submitit_local", "model.backbone.name=not_a_timm_model",
        "trainer=default,ddp_sim", "trainer.accelerator=cpu",
    )  # fmt: skip
    errors = [json.loads((sweep / job / "failed.json").read_text())["error"] for job in "01"]
    assert "unknown timm model 'not_a_timm_model'" in errors[0]
    assert "submitit runs this job as 1 task(s)" in errors[1]
    assert "hydra/launcher=local" in errors[1]
    assert [r["status"].split(":")[0] for r in _comparison(sweep)] == ["failed", "failed"]


def test_final_is_the_last_epoch_also_when_it_is_worse_than_the_best(tmp_path, data_dir):
    """Epoch 2 unfreezes the backbone at a destructive learning rate: it ends worse than epoch 1,
    and `final` shows epoch 2, `best` epoch 1."""
    sweep = tmp_path / "sweep"
    command = [
        sys.executable, "train.py", "-m", *FAST, f"paths.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}", "seed=1", "trainer.max_epochs=2", "test=false",
        "finetune=unfreeze_at", "finetune.unfreeze_epoch=1", "finetune.backbone_lr_mult=500",
        "task.scheduler.name=none",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (sweep / "0" / "metrics.csv").open(newline="") as file:
        per_epoch = [float(r["val/acc"]) for r in csv.DictReader(file) if r["val/acc_best"]]
    (row,) = _comparison(sweep)
    assert len(per_epoch) == 2 and per_epoch[1] < per_epoch[0]
    assert float(row["final val/acc"]) == pytest.approx(per_epoch[1])
    assert float(row["best val/acc"]) == pytest.approx(per_epoch[0])


def _fake_job(job: Path, overrides: list[str], values: list[float]) -> None:
    """A finished job folder as train.py writes it: overrides, config, metrics.csv, results."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "config.yaml").write_text(yaml.safe_dump({"task": {"monitor": "val/acc"}}))
    rows = "".join(f"{epoch},{value}\n" for epoch, value in enumerate(values))
    (job / "metrics.csv").write_text("epoch,val/acc\n" + rows)
    (job / "results.json").write_text(json.dumps({"last_epoch": {"val/acc": values[-1]}}))


def test_swept_seeds_are_averaged_per_configuration(tmp_path):
    from visionlab.sweeps import write_comparison

    jobs = {
        "0": (["model=a", "seed=1"], [0.2, 0.6, 0.5]),
        "1": (["model=a", "seed=2"], [0.8, 0.7]),
        "2": (["model=b", "seed=1"], [0.4]),
        "3": (["model=b", "seed=2"], [0.3, 0.2]),
    }
    for name, (overrides, values) in jobs.items():
        _fake_job(tmp_path / name, overrides, values)
    markdown = write_comparison(tmp_path).read_text()
    with (tmp_path / "comparison_seeds.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["model"] for r in rows] == ["a", "b"] and rows[0]["seeds"] == "1 2"
    assert float(rows[0]["mean best val/acc"]) == pytest.approx((0.6 + 0.8) / 2)
    assert float(rows[0]["mean final val/acc"]) == pytest.approx((0.5 + 0.7) / 2)
    assert rows[1]["range"] == "0.3–0.4"
    assert "Mean over seeds" in markdown
