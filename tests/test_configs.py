"""Every config group option composes and instantiates; bad choices fail with the options."""

from __future__ import annotations

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, SHARED_DATA
from visionlab.cli.common import build_datamodule, build_task, instantiate_dict
from visionlab.data.sources import CLASSIFICATION_SOURCES, DETECTION_SOURCES
from visionlab.errors import ConfigError
from visionlab.utils.config import (
    check_config,
    fill_anchor_sizes,
    fill_preprocessing,
    model_tasks,
    models_for_task,
)

SOURCES = {"classify": CLASSIFICATION_SOURCES, "detect": DETECTION_SOURCES}


def options(group: str) -> list[str]:
    """Every config of the group, those in subfolders (the studies') included."""
    root = CONF_DIR / group
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def build_all(cfg):
    """Instantiate data module, task, callbacks, loggers and (where hardware allows) trainer."""
    check_config(cfg)
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, cfg.task.name)
    fill_anchor_sizes(cfg, datamodule)
    task = build_task(cfg, datamodule)
    callbacks = instantiate_dict(cfg.callbacks)
    loggers = instantiate_dict(cfg.get("logger"))
    needs_gpu = cfg.trainer.accelerator == "gpu"
    if not needs_gpu or torch.cuda.is_available():
        instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    return datamodule, task, callbacks


def test_default_config_builds(make_cfg):
    datamodule, task, callbacks = build_all(make_cfg())
    assert datamodule.class_names == ["circle", "square", "triangle"]
    assert task.model.head[-1].out_features == 3
    checkpoint = next(c for c in callbacks if isinstance(c, ModelCheckpoint))
    assert (checkpoint.monitor, checkpoint.mode) == ("val/acc", "max")


@pytest.mark.parametrize("option", options("model"))
def test_model_options(make_cfg, option):
    task = model_tasks(option)[0]
    build_all(make_cfg(f"task={task}", f"model={option}", "model.backbone.pretrained=false"))


@pytest.mark.parametrize("option", options("finetune"))
def test_finetune_options(make_cfg, option):
    build_all(make_cfg(f"finetune={option}"))


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options(make_cfg, option):
    cfg = make_cfg(f"trainer={option}")
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    build_all(cfg)


@pytest.mark.parametrize("option", options("logger"))
def test_logger_options(make_cfg, option, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    build_all(make_cfg(f"logger={option}", "run_id=test"))


@pytest.mark.parametrize("option", options("debug"))
def test_debug_options(make_cfg, option):
    build_all(make_cfg(f"debug={option}"))


@pytest.mark.parametrize("option", options("data"))
def test_data_options(make_cfg, option, imagefolder_root, csv_root, detection_roots):
    roots = {"imagefolder": imagefolder_root, "csv": csv_root, **detection_roots}
    extra = [f"data.root={roots[option]}"] if option in roots else []
    source = OmegaConf.load(CONF_DIR / "data" / f"{option}.yaml").get("source", option)
    tasks = [t for t, sources in SOURCES.items() if source in sources]
    for task in tasks:
        datamodule, built, _ = build_all(make_cfg(f"task={task}", f"data={option}", *extra))
        assert datamodule.num_classes == built.hparams.num_classes >= 2


@pytest.mark.parametrize("option", options("hparams_search"))
def test_hparams_search_options(make_cfg, option):
    cfg = make_cfg(f"hparams_search={option}")
    assert cfg.task.name in option


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_options(make_cfg, option):
    cfg = make_cfg(f"experiment={option}")
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    build_all(cfg)


# the studies each recipe switch is compared in (experiments/recipes)
SWITCH_STUDIES = {
    "none": ["hymenoptera", "recipes/bccd", "camvid"],
    "ema": ["hymenoptera", "recipes/bccd", "camvid"],
    "frozen_norm": ["hymenoptera", "recipes/bccd", "camvid"],
    "mix": ["hymenoptera"],
    "random_erasing": ["hymenoptera"],
    "balanced_sampler": ["hymenoptera"],
    "focal": ["hymenoptera", "camvid"],
    "balanced_weights": ["hymenoptera"],
    "no_class_weights": ["camvid"],
    "mosaic": ["recipes/bccd"],
    "multi_scale": ["recipes/bccd"],
    "auto_anchors": ["recipes/bccd"],
    "train_norm": ["recipes/bccd"],
}


def test_every_switch_has_its_studies():
    assert set(SWITCH_STUDIES) == set(options("switch"))


@pytest.mark.parametrize("option", options("switch"))
def test_switch_options(make_cfg, option):
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    for experiment in SWITCH_STUDIES[option]:
        build_all(make_cfg(f"experiment={experiment}", f"switch={option}"))


@pytest.mark.parametrize("option", options("task"))
def test_task_options(make_cfg, option):
    cfg = make_cfg(f"task={option}")
    if models_for_task(option):
        build_all(cfg)
    else:
        with pytest.raises(ConfigError, match=f"cannot serve task={option}"):
            check_config(cfg)


def test_task_picks_its_default_model_and_the_command_line_wins(make_cfg):
    assert make_cfg("task=detect").model.name == "yolov1"
    assert make_cfg("task=detect", "model=faster_rcnn").model.name == "faster_rcnn"
    assert make_cfg("task=detect", "data.image_size=320").data.image_size == 320


def test_incompatible_model_lists_valid_models(make_cfg):
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg("task=segment", "model=yolov1"))
    assert "Models for task=segment: fcn16s, fcn32s, fcn8s, unet" in str(err.value)
    assert "efficientnet_lite0" in models_for_task("classify")


def test_unknown_option_names_valid_ones(make_cfg):
    with pytest.raises(MissingConfigException) as err:
        make_cfg("model=efficientnet_lite9")
    assert "efficientnet_lite0" in str(err.value)


def test_key_typo_fails(make_cfg):
    with pytest.raises(ConfigCompositionException, match="max_epoch"):
        make_cfg("trainer.max_epoch=3")


def test_unknown_data_source_for_task(make_cfg):
    cfg = make_cfg("data.source=coco")
    with pytest.raises(ConfigError, match="imagefolder, csv, shapes"):
        build_datamodule(cfg.data, cfg.task.name)


def test_slurm_launcher_runs_one_task_per_gpu():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    overrides = ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (cfg.hydra.launcher.tasks_per_node, cfg.hydra.launcher.gpus_per_node) == (4, 4)
    assert cfg.hydra.launcher.nodes == 2


@pytest.mark.parametrize(
    "experiment",
    ["raccoon_faster_rcnn", "detectors/faster_rcnn", "detectors/retinanet", "detectors/fcos",
     "detectors/bccd/faster_rcnn", "roi_pool_vs_align/roi_align"],
)  # fmt: skip
def test_recorded_studies_keep_the_recipe_they_were_measured_with(make_cfg, experiment):
    """A later recipe (conf/recipe/faster_rcnn.yaml) does not change the studies on record."""
    cfg = make_cfg(f"experiment={experiment}", fast=False)
    assert cfg.finetune.norm == "train" and cfg.trainer.gradient_clip_val is None
    assert cfg.trainer.max_epochs in (5, 6) and cfg.data.image_size == 384


def test_a_model_recipe_wins_over_the_task_and_loses_to_the_command_line(make_cfg):
    """conf/recipe/<model>.yaml comes after the task's defaults (which come after the
    trainer's), before experiments and the command line."""
    recipe = OmegaConf.load(CONF_DIR / "recipe" / "faster_rcnn.yaml")
    cfg = make_cfg("task=detect", "model=faster_rcnn", fast=False)
    assert cfg.data.image_size == recipe.data.image_size != 224  # the task's size
    assert cfg.task.optimizer.name == recipe.task.optimizer.name
    assert cfg.trainer.max_epochs == recipe.trainer.max_epochs
    assert cfg.finetune.norm == recipe.finetune.norm == "frozen"  # over finetune=full's
    assert cfg.trainer.gradient_clip_val == recipe.trainer.gradient_clip_val
    assert make_cfg("task=detect", fast=False).data.image_size == 224  # YOLOv1: the task's
    cfg = make_cfg("task=detect", "model=faster_rcnn", "data.image_size=256", fast=False)
    assert cfg.data.image_size == 256
