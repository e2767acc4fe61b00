"""Logger factories that need more than a `_target_`."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger

log = logging.getLogger(__name__)


def wandb_api_key_available() -> bool:
    """True when W&B could authenticate: WANDB_API_KEY or a netrc entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1]
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_logger(
    save_dir: str,
    run_id: str,
    project: str = "visionlab",
    mode: str = "auto",
    **kwargs,
) -> WandbLogger:
    """A WandbLogger whose run id is the run folder's id.

    `mode=auto` runs online when an API key is configured and offline otherwise (sync later
    with `wandb sync <run dir>/wandb/offline-run-*`).
    """
    if mode == "auto":
        mode = "online" if wandb_api_key_available() else "offline"
        if mode == "offline":
            log.info("W&B: no API key found, logging offline to %s/wandb", save_dir)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        save_dir=save_dir, id=run_id, project=project, offline=mode == "offline", **kwargs
    )


def _box_data(boxes, labels, class_names: list[str], scores=None) -> list[dict]:
    rows = []
    for i, ((x0, y0, x1, y1), label) in enumerate(zip(boxes, labels, strict=True)):
        row = {
            "position": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1},
            "domain": "pixel",
            "class_id": int(label),
            "box_caption": class_names[int(label)],
        }
        if scores is not None:
            row["scores"] = {"score": scores[i]}
            row["box_caption"] += f" {scores[i]:.2f}"
        rows.append(row)
    return rows


def log_wandb_boxes(
    logger: WandbLogger,
    key: str,
    images: list,
    preds: list[dict],
    targets: list[dict],
    class_names: list[str],
    step: int,
    min_score: float = 0.3,
) -> None:
    """Images with interactive W&B box overlays: `ground_truth` and `predictions`."""
    labels = dict(enumerate(class_names))
    overlays = []
    for pred, target in zip(preds, targets, strict=True):
        keep = pred["scores"] >= min_score
        overlays.append(
            {
                "predictions": {
                    "box_data": _box_data(
                        pred["boxes"][keep].tolist(),
                        pred["labels"][keep].tolist(),
                        class_names,
                        pred["scores"][keep].tolist(),
                    ),
                    "class_labels": labels,
                },
                "ground_truth": {
                    "box_data": _box_data(
                        target["boxes"].tolist(), target["labels"].tolist(), class_names
                    ),
                    "class_labels": labels,
                },
            }
        )
    logger.log_image(key=key, images=images, step=step, boxes=overlays)
