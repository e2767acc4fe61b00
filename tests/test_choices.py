"""Every choice field of the config: a wrong value ends the run with `<key>=<value>: choose one
of ...` before any run folder exists."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from visionlab.utils.choices import choice_fields

# the group choices that bring each field into the config
NEEDS = {
    "data.on_error": [],
    "data.augment": [],
    "data.mix": [],
    "data.sampler": [],
    "finetune.strategy": [],
    "finetune.norm": [],
    "task.mode": [],
    "task.nonfinite_loss": [],
    "task.optimizer.name": [],
    "task.optimizer.scale_lr": [],
    "task.scheduler.name": [],
    "task.loss.kind": ["task=segment"],
    "model.box_roi_pool": ["model=faster_rcnn"],
    "model.upsampling": ["model=unet"],
    "model.head": ["model=yolov1"],
    "model.variant": ["model=fcn8s"],
    "ops.nms": [],
    "ops.iou": [],
}


def test_every_choice_field_is_tested():
    assert set(NEEDS) == set(choice_fields())


@pytest.mark.parametrize("key", sorted(NEEDS))
def test_a_wrong_choice_fails_before_the_run_folder(tmp_path, key):
    command = [sys.executable, "train.py", *NEEDS[key], f"{key}=bogus", f"paths.log_dir={tmp_path}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    options = ", ".join(choice_fields()[key])
    assert f"{key}=bogus: choose one of {options}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())
