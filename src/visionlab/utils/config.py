"""Config checks and derived values, applied before anything is built."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

from visionlab.errors import ConfigError
from visionlab.models import MODELS, model_spec
from visionlab.models.backbones import preprocessing
from visionlab.utils.choices import check_choices

# `${visionlab.cwd:}`: the launch folder, also where Hydra's own `${hydra:runtime.cwd}` is not
# set yet (a multirun resolves its sweep folder before any job starts)
OmegaConf.register_new_resolver("visionlab.cwd", os.getcwd, replace=True)

log = logging.getLogger("visionlab")
PREPROCESSING_KEYS = ("image_size", "mean", "std", "crop_pct", "interpolation")


def config_dir() -> Path:
    """The primary config folder of the running Hydra app (the repo's `conf/` otherwise)."""
    if HydraConfig.initialized():
        for source in HydraConfig.get().runtime.config_sources:
            if source.provider == "main" and source.schema == "file":
                return Path(source.path)
    return Path(__file__).resolve().parents[3] / "conf"


def compose_config(
    config_name: str,
    overrides: list[str],
    run_dir: Path,
    root_dir: Path | None = None,
    data_dir: Path | None = None,
) -> DictConfig:
    """Compose `conf/<config_name>.yaml` outside `@hydra.main` (scripts, tests), with the run
    folder at `run_dir`; the result can be passed to `train`, `evaluate` or `predict`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(root_dir or config_dir().parent)
        cfg.paths.output_dir = str(run_dir)
        cfg.paths.log_dir = str(run_dir.parent)
        if data_dir is not None:
            cfg.paths.data_dir = str(data_dir)
        del cfg["hydra"]
    return cfg


def model_tasks(option: str) -> tuple[str, ...]:
    """The tasks the network of `conf/model/<option>.yaml` serves (what its class registered)."""
    arch = OmegaConf.load(config_dir() / "model" / f"{option}.yaml").get("arch")
    return MODELS[arch].tasks if arch in MODELS else ()


def models_for_task(task: str) -> list[str]:
    """Names of the `model` configs whose network serves `task`."""
    options = sorted(path.stem for path in (config_dir() / "model").glob("*.yaml"))
    return [option for option in options if task in model_tasks(option)]


def check_config(cfg: DictConfig) -> None:
    """Refuse a wrong choice value (`utils.choices`), and a `model` or data source that cannot
    serve the `task`, naming the ones that can."""
    check_choices(cfg)
    task = cfg.task.name
    served = cfg.data.get("tasks")
    if served and task not in served:
        raise ConfigError(
            f"data source '{cfg.data.source}' cannot serve task={task} "
            f"(it serves: {', '.join(served)})"
        )
    tasks = model_spec(cfg.model.get("arch")).tasks
    if task not in tasks:
        options = ", ".join(models_for_task(task)) or "none yet"
        raise ConfigError(
            f"model '{cfg.model.name}' cannot serve task={task} "
            f"(it serves: {', '.join(tasks)}). Models for task={task}: {options}"
        )


def fill_preprocessing(cfg: DictConfig) -> None:
    """Fill unset `data.image_size/mean/std/crop_pct/interpolation` from the backbone's
    timm `pretrained_cfg`, so the resolved config records what was used."""
    if all(cfg.data.get(key) is not None for key in PREPROCESSING_KEYS):
        return
    backbone = cfg.model.get("backbone") or {}
    defaults = preprocessing(backbone.get("name", "resnet50"))
    with open_dict(cfg):
        for key in PREPROCESSING_KEYS:
            if cfg.data.get(key) is None:
                cfg.data[key] = defaults[key]


def fill_anchor_sizes(cfg: DictConfig, datamodule) -> None:
    """`model.anchor_sizes=auto`: one size per pyramid level from the training boxes at the
    input size, written into the config (so config.yaml and the checkpoint hold the numbers)
    and the data report."""
    from visionlab.models.detector_adapter import auto_anchor_sizes

    if cfg.model.get("anchor_sizes") != "auto":
        return
    if not hasattr(datamodule, "object_sides"):
        raise ConfigError(f"model.anchor_sizes=auto: task={cfg.task.name} has no boxes")
    sizes = auto_anchor_sizes(*datamodule.object_sides(), cfg.model.get("fpn_levels", 3) + 1)
    log.info("Anchor sizes from the training boxes: %s", sizes)
    cfg.model.anchor_sizes = sizes
    datamodule.report.anchor_sizes = sizes
    if datamodule.report_path:
        datamodule.report.write(datamodule.report_path)


def print_config_tree(cfg: DictConfig, first: tuple[str, ...] = ("task", "model", "data")) -> None:
    """Print the resolved config as a tree, one branch per top-level key."""
    tree = Tree("config", style="bold")
    keys = [k for k in first if k in cfg] + [k for k in cfg if k not in first]
    for key in keys:
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        tree.add(f"[bold cyan]{key}").add(Syntax(text.rstrip(), "yaml", theme="ansi_dark"))
    Console().print(tree)
