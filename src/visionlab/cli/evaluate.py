"""Evaluation of a checkpoint on its validation (and test) split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from visionlab.callbacks import auto_progress_bar, reports
from visionlab.cli.common import build_datamodule
from visionlab.tta import with_tta
from visionlab.utils.checkpoint import load_model
from visionlab.utils.launch import check_launch

log = logging.getLogger("visionlab")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Rebuild model and data from the checkpoint (non-null `data.*` keys override, and a
    detector's `model.*` limits), then validate, and test when the data has a test split."""
    check_launch(cfg)
    limits = {k: v for k, v in OmegaConf.to_container(cfg.model).items() if v is not None}
    task = load_model(cfg.ckpt_path, trusted=cfg.trust_checkpoint, limits=limits)
    if limits:
        log.info("Detection limits for this evaluation: %s", limits)
    if cfg.get("tta"):
        with_tta(task, cfg.tta_flip, list(cfg.tta_scales), cfg.tta_merge)
    data_cfg = OmegaConf.create(task.run_config["data"])
    overrides = {k: v for k, v in OmegaConf.to_container(cfg.data).items() if v is not None}
    data_cfg = OmegaConf.merge(data_cfg, overrides)
    datamodule = build_datamodule(data_cfg, task.name)
    run_dir = Path(cfg.paths.output_dir)
    trainer = instantiate(
        cfg.trainer,
        logger=False,
        callbacks=[auto_progress_bar(), *reports()],
        default_root_dir=str(run_dir),
    )
    results: dict[str, float] = {}
    if cfg.split in ("val", "all"):
        results |= trainer.validate(task, datamodule=datamodule)[0]
    if cfg.split in ("test", "all") and datamodule.has_test:
        results |= trainer.test(task, datamodule=datamodule)[0]
    results = {k: float(v) for k, v in results.items()}
    if trainer.is_global_zero:  # every rank holds the same, synced values
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "results.json").write_text(
            json.dumps(
                {"checkpoint": str(cfg.ckpt_path), "limits": limits, "metrics": results}, indent=2
            )
        )
        log.info("Results written to %s", run_dir / "results.json")
    return results
