"""Prediction on an image file or a folder of images, from a checkpoint alone."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from visionlab.data.sources.common import is_image_file
from visionlab.errors import ConfigError, DataError
from visionlab.predictors import PREDICTORS
from visionlab.tta import with_tta
from visionlab.utils.checkpoint import load_model

log = logging.getLogger("visionlab")


def list_images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"input '{path}' is neither an image file nor a folder")
    files = sorted(p for p in path.rglob("*") if is_image_file(p))
    if not files:
        raise DataError(f"input folder '{path}' holds no image files")
    return files


def predict(cfg: DictConfig) -> Path:
    task = load_model(cfg.ckpt_path, trusted=cfg.trust_checkpoint)
    if task.name not in PREDICTORS:
        raise ConfigError(f"predict.py does not support task={task.name} yet")
    if cfg.get("tta"):
        with_tta(task, cfg.tta_flip, list(cfg.tta_scales), cfg.tta_merge)
    source = Path(cfg.input).expanduser()
    files = list_images(source)
    device = (
        cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    out = PREDICTORS[task.name](
        task,
        files,
        Path(cfg.paths.output_dir),
        topk=cfg.topk,
        score_threshold=cfg.score_threshold,
        batch_size=cfg.batch_size,
        device=device,
        root=source if source.is_dir() else source.parent,
    )
    log.info("Predicted %d image(s): %s", len(files), out)
    return out
