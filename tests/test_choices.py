"""Every choice field of the config: a wrong value ends the run with `<key>=<value>: choose one
of ...` before any run folder exists. Each field is checked on its composed config with the
Hydra callback that runs the check; one run through `train.py` shows the callback in place."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO
from visionlab.utils.choices import CheckChoices, choice_fields

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


def _message(key: str) -> str:
    return f"{key}=bogus: choose one of {', '.join(choice_fields()[key])}"


@pytest.mark.parametrize("key", sorted(NEEDS))
def test_a_wrong_choice_ends_the_run_at_its_start(make_cfg, key):
    cfg = make_cfg(*NEEDS[key], f"{key}=bogus")
    with pytest.raises(SystemExit, match=f"^ERROR - {re.escape(_message(key))}$"):
        CheckChoices().on_run_start(config=cfg)


def test_a_wrong_choice_fails_before_the_run_folder(tmp_path):
    key = "model.head"
    command = [sys.executable, "train.py", *NEEDS[key], f"{key}=bogus", f"paths.log_dir={tmp_path}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert _message(key) in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())
