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
