"""The dataset check on its own: the scan every training run starts with."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from visionlab.cli.common import build_datamodule
from visionlab.data.check import DataReport
from visionlab.utils.config import check_config, fill_preprocessing

log = logging.getLogger("visionlab")


def check(cfg: DictConfig) -> DataReport:
    """Scan `cfg.data` as `task` would read it; log the summary, write `data_report.json`."""
    check_config(cfg)
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, cfg.task.name)
    datamodule.report_path = Path(cfg.paths.output_dir) / "data_report.json"
    datamodule.prepare_data()
    log.info("Report written to %s", datamodule.report_path)
    return datamodule.report
