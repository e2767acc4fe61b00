"""The task a command line implies: `data=` and `model=` choices that serve one task need no
`task=`; several possible tasks are refused before any run folder exists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, FAST, REPO, SHARED_DATA
from visionlab.cli.common import DATAMODULES
from visionlab.cli.task_choice import served_tasks, task_argv
from visionlab.errors import ConfigError
from visionlab.utils.config import compose_config


def run(script: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, script, *overrides]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "overrides, task",
    [
        (["data=voc", "data.root=x"], "detect"),
        (["data=yolo"], "detect"),
        (["data=masks"], "segment"),
        (["data=imagefolder"], "classify"),
        (["model=faster_rcnn"], "detect"),
        (["model=fcn8s", "data=shapes"], "segment"),
        (["data=coco", "model=mask_rcnn"], "instance"),
        (["-m", "data=voc,yolo,csv_boxes"], "detect"),
    ],
)
def test_one_served_task_is_added(overrides, task):
    assert task_argv(["train.py", *overrides]) == ["train.py", *overrides, f"task={task}"]


@pytest.mark.parametrize(
    "overrides",
    [[], ["data=shapes"], ["task=segment", "data=voc"], ["experiment=camvid"], ["resume=auto"]],
)
def test_the_command_line_is_kept_where_it_decides_or_the_default_fits(overrides):
    assert task_argv(["train.py", *overrides]) == ["train.py", *overrides]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data=coco"], "add task=detect or task=instance"),
        (["data=voc", "model=unet"], "no task fits this command line"),
        (["-m", "data=voc,masks"], "add task=detect or task=segment"),
    ],
)
def test_ambiguous_or_impossible_choices_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        task_argv(["train.py", *overrides])


def test_every_data_config_names_the_tasks_its_source_serves():
    for path in sorted((CONF_DIR / "data").glob("*.yaml")):
        source = OmegaConf.load(path).get("source", path.stem)
        declared = served_tasks("data", path.stem)
        readers = [task for task, module in DATAMODULES.items() if source in module.sources]
        assert sorted(declared) == sorted(readers), path.name


def test_an_implied_task_composes_exactly_as_the_explicit_one(tmp_path):
    implied = task_argv(["train.py", "model=faster_rcnn"])[1:]
    assert compose_config("train", implied, tmp_path / "run") == compose_config(
        "train", ["model=faster_rcnn", "task=detect"], tmp_path / "run"
    )


def test_train_without_task_on_a_detection_source(tmp_path, data_dir, detection_roots):
    result = run(
        "train.py", *FAST, f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}",
        "data=yolo", f"data.root={detection_roots['yolo']}", "debug=fdr",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "detect").iterdir()
    assert OmegaConf.load(run_dir / "config.yaml").model.name == "yolov1"


def test_a_source_serving_two_tasks_is_refused_before_any_folder(tmp_path):
    result = run("train.py", "data=coco", "data.root=/data/coco", f"paths.log_dir={tmp_path}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "task=detect" in output and "task=instance" in output
    assert not any(tmp_path.iterdir())


def test_an_explicit_task_the_source_cannot_serve_is_named(tmp_path, detection_roots):
    result = run(
        "check.py", "task=classify", "data=voc", f"data.root={detection_roots['voc']}",
        f"paths.log_dir={tmp_path}",
    )  # fmt: skip
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "data source 'voc' cannot serve task=classify (it serves: detect)" in output


@pytest.mark.skipif(not (SHARED_DATA / "bccd").is_dir(), reason="needs ../shared/data/bccd")
def test_check_a_voc_dataset_without_task(tmp_path):
    result = run(
        "check.py", "data=voc", f"data.root={SHARED_DATA / 'bccd'}", f"paths.log_dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (report,) = (tmp_path / "check").glob("*/data_report.json")
    splits = json.loads(report.read_text())["splits"]
    assert splits["train"]["usable"] == 205 and splits["test"]["usable"] == 72
