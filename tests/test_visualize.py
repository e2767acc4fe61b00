"""scripts/visualize.py draws each lecture figure."""

from __future__ import annotations

import subprocess
import sys

import pytest

from visionlab.cli.train import train

from .conftest import REPO


def _draw(figure: str, out, *args: str) -> None:
    command = [sys.executable, "scripts/visualize.py", figure, "--out", str(out), *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / f"{figure}.png").stat().st_size > 10_000


@pytest.mark.parametrize("figure", ["yolo_grid", "nms", "anchors", "upsampling"])
def test_lecture_figures(tmp_path, data_dir, figure):
    _draw(figure, tmp_path, "--data-dir", str(data_dir))


def test_figure_sent_to_wandb_offline(tmp_path, data_dir):
    _draw("nms", tmp_path, "--data-dir", str(data_dir), "--wandb", "offline")
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run.rglob("files/media/images/lecture/nms_*.png"))


def test_segmentation_models_side_by_side(tmp_path, make_cfg):
    checkpoints = []
    for model in ("fcn8s", "unet"):
        cfg = make_cfg(
            "task=segment", f"model={model}", "trainer.max_epochs=1",
            "trainer.limit_train_batches=1", "test=false", run=model,
        )  # fmt: skip
        train(cfg)
        checkpoints += ["--checkpoint", f"{cfg.paths.output_dir}/checkpoints/last.ckpt"]
    _draw("segmentation", tmp_path, *checkpoints)
