"""Training: compose, fit, then validate (and test) the best checkpoint."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from visionlab.callbacks.batch_size import BatchSizeSearch
from visionlab.cli.common import build_datamodule, build_task, build_trainer, instantiate_dict
from visionlab.cli.resume import restore_config
from visionlab.utils.config import (
    check_config,
    fill_anchor_sizes,
    fill_preprocessing,
    print_config_tree,
)
from visionlab.utils.launch import check_launch, join_submitit_tasks
from visionlab.utils.loggers import finish_wandb
from visionlab.utils.plots import save_and_log_figure, training_curves_figure
from visionlab.utils.run import run_id_for, write_run_files

log = logging.getLogger("visionlab")


def _scalars(results: list[dict]) -> dict[str, float]:
    """The first dataloader's metrics from `trainer.validate/test` (empty when skipped)."""
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def _plot_curves(run_dir: Path) -> None:
    metrics_csv = run_dir / "metrics.csv"
    fig = training_curves_figure(metrics_csv) if metrics_csv.is_file() else None
    if fig is not None:
        save_and_log_figure(fig, run_dir / "plots" / "curves.png", "curves", [], step=0)


def train(cfg: DictConfig, callbacks: list[L.Callback] | None = None) -> float | None:
    """Train as configured; return the task's monitored metric for the best checkpoint.

    `callbacks` are added before the configured ones (a benchmark's, say)."""
    if cfg.extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if cfg.get("resume"):
        cfg = restore_config(cfg)
        log.info("Resuming %s from %s", cfg.resume, cfg.ckpt_path)
    check_config(cfg)
    if not join_submitit_tasks(cfg):
        log.info("This submitit task stands down: the job runs in one process (task 0)")
        return None
    check_launch(cfg)
    fill_preprocessing(cfg)
    run_dir = Path(cfg.paths.output_dir)
    with open_dict(cfg):
        cfg.run_id = cfg.get("run_id") or run_id_for(run_dir, Path(cfg.paths.log_dir))
    L.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(cfg.data, cfg.task.name)
    datamodule.report_path = run_dir / "data_report.json"
    datamodule.seed = cfg.seed
    datamodule.persistent_workers = not cfg.trainer.get("deterministic")
    datamodule.prepare_data()
    fill_anchor_sizes(cfg, datamodule)
    task = build_task(cfg, datamodule)
    task.run_config = OmegaConf.to_container(cfg, resolve=True)
    loggers = instantiate_dict(cfg.get("logger"))
    try:
        if cfg.data.get("batch_size") == "auto":
            callbacks = [*(callbacks or []), BatchSizeSearch()]
        trainer = build_trainer(cfg, run_dir, loggers, callbacks)
        if trainer.is_global_zero:
            if cfg.extras.get("print_config"):
                print_config_tree(cfg)
            write_run_files(cfg, run_dir, cfg.run_id, trainer.world_size)
        for logger in loggers:
            logger.log_hyperparams(task.run_config)

        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        last_epoch = _scalars([trainer.callback_metrics])  # the last validation's values

        checkpoint = trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
        results = _scalars(trainer.validate(task, datamodule=datamodule, ckpt_path=best))
        if datamodule.has_test and cfg.get("test"):
            results |= _scalars(trainer.test(task, datamodule=datamodule, ckpt_path=best))
        if trainer.is_global_zero:
            _plot_curves(run_dir)
            params = sum(p.numel() for p in task.model.parameters())
            summary = {
                "best_checkpoint": best,
                "metrics": results,
                "last_epoch": {k: v for k, v in last_epoch.items() if k.startswith("val/")},
                "params": params,
            }
            (run_dir / "results.json").write_text(json.dumps(summary, indent=2))
            log.info("Best checkpoint: %s", best or "none saved (weights at the end of training)")
            log.info("Run folder: %s", run_dir)
        return results.get(cfg.task.monitor)
    finally:
        finish_wandb(loggers)  # a run left open would absorb the next one in this process
