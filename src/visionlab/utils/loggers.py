"""Logger factories that need more than a `_target_`."""

from __future__ import annotations

import csv
import logging
import netrc
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

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


class _AppendingWriter(ExperimentWriter):
    """Keeps an existing metrics.csv (a resumed run) and appends to it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


class RunCSVLogger(CSVLogger):
    """`metrics.csv` in the run folder; a resumed run adds its rows to the earlier ones."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


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
    if not kwargs.get("group") and HydraConfig.initialized():
        # runs of one experiment, or of one sweep, share a W&B group
        hydra = HydraConfig.get()
        experiment = hydra.runtime.choices.get("experiment")
        sweep = Path(hydra.sweep.dir).name if hydra.mode == RunMode.MULTIRUN else None
        kwargs["group"] = sweep or experiment or None
    if mode == "auto":
        mode = "online" if wandb_api_key_available() else "offline"
        if mode == "offline":
            log.info("W&B: no API key found, logging offline to %s/wandb", save_dir)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        save_dir=save_dir,
        id=run_id,
        project=project,
        offline=mode == "offline",
        resume="allow",  # a resumed run folder continues its W&B run
        **kwargs,
    )


def save_and_log_table(
    path: Path, key: str, columns: list[str], rows: list[list], loggers: list
) -> None:
    """Write a table as CSV to `path` and send it to W&B loggers as a W&B Table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(key=key, columns=columns, data=[list(row) for row in rows])


def finish_wandb(loggers: list) -> None:
    """Close the W&B run that `loggers` opened, so the next run in this process starts fresh."""
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        import wandb

        wandb.finish()


def _box_group(target: dict, class_names: list[str]) -> dict:
    """One W&B box layer from `{boxes (pixel xyxy), labels[, scores]}`."""
    scores = target["scores"].tolist() if "scores" in target else None
    rows = []
    for i, ((x0, y0, x1, y1), label) in enumerate(
        zip(target["boxes"].tolist(), target["labels"].tolist(), strict=True)
    ):
        row = {
            "position": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1},
            "domain": "pixel",
            "class_id": label,
            "box_caption": class_names[label],
        }
        if scores is not None:
            row["scores"] = {"score": scores[i]}
            row["box_caption"] += f" {scores[i]:.2f}"
        rows.append(row)
    return {"box_data": rows, "class_labels": dict(enumerate(class_names))}


def log_wandb_boxes(
    logger: WandbLogger,
    key: str,
    images: list,
    preds: list[dict],
    targets: list[dict],
    class_names: list[str],
    step: int,
) -> None:
    """Images with interactive W&B box overlays: `ground_truth` and `predictions`."""
    overlays = [
        {"predictions": _box_group(p, class_names), "ground_truth": _box_group(t, class_names)}
        for p, t in zip(preds, targets, strict=True)
    ]
    logger.log_image(key=key, images=images, step=step, boxes=overlays)


def log_wandb_masks(
    logger: WandbLogger,
    key: str,
    images: list,
    preds: list,
    targets: list,
    class_names: list[str],
    ignore_index: int,
    step: int,
) -> None:
    """Images with interactive W&B mask overlays: `ground_truth` and `predictions`."""
    labels = {**dict(enumerate(class_names)), ignore_index: "ignored"}
    overlays = [
        {
            "predictions": {"mask_data": p.numpy(), "class_labels": labels},
            "ground_truth": {"mask_data": t.numpy(), "class_labels": labels},
        }
        for p, t in zip(preds, targets, strict=True)
    ]
    logger.log_image(key=key, images=images, step=step, masks=overlays)
