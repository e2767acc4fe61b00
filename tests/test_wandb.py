"""W&B offline runs: what the run folder holds, and what it must never hold."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import FAST, REPO


def test_offline_run_holds_history_media_and_tables_but_no_secret(tmp_path, data_dir):
    secret = "0123456789abcdef0123456789abcdef01234567"
    env = os.environ | {"WANDB_API_KEY": secret, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "train.py", *FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}",
        "logger=many", "logger.wandb.mode=offline", "trainer.max_epochs=2",
        "trainer.limit_train_batches=2", "test=false",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    assert offline.name.endswith(run_dir.name), "the W&B run id is the run folder's id"
    (history,) = offline.glob("run-*.wandb")
    records = history.read_bytes()
    for key in (b"val/acc", b"train/loss_epoch", b"val/img_per_s"):
        assert key in records
    assert any(p.suffix == ".png" for p in offline.rglob("files/media/images/**/*"))
    assert any(p.name.endswith(".table.json") for p in offline.rglob("files/media/table/**/*"))
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert [p for p in files if secret.encode() in p.read_bytes()] == []
