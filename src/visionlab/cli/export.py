"""Export of a checkpoint's network to ONNX or TorchScript, checked against eager PyTorch."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from visionlab.errors import ConfigError
from visionlab.export import export_model, exportable, max_difference
from visionlab.utils.checkpoint import load_model

log = logging.getLogger("visionlab")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


def export(cfg: DictConfig) -> Path:
    """Write the exported file (and `<file>.json`: input size, preprocessing, classes, the
    check's result); with `check`, fail when it differs from eager by more than `tolerance`."""
    if cfg.format not in SUFFIX:
        raise ConfigError(f"format={cfg.format!r}; choose one of {', '.join(SUFFIX)}")
    task = load_model(cfg.ckpt_path, trusted=cfg.trust_checkpoint)
    data = task.run_config.get("data", {})
    size = int(cfg.image_size or data.get("eval_size") or data["image_size"])
    ckpt = Path(cfg.ckpt_path)
    path = Path(cfg.output) if cfg.output else ckpt.with_suffix(SUFFIX[cfg.format])
    export_model(task, path, cfg.format, size, cfg.opset)
    spec = exportable(task)[1]
    info = {
        "checkpoint": str(ckpt),
        "format": cfg.format,
        "input": {"images": [1 if spec.one_image else -1, 3, size, size]},
        "outputs": list(spec.outputs),
        "mean": data.get("mean"),
        "std": data.get("std"),
        "class_names": list(task.hparams.class_names),
    }
    if cfg.check:
        difference = max_difference(task, path, cfg.format, size)
        info["max_abs_difference"] = difference
        if difference > cfg.tolerance:
            raise ConfigError(
                f"{path} differs from eager PyTorch by {difference:.2e} (tolerance {cfg.tolerance})"
            )
        log.info("Checked against eager PyTorch: largest difference %.2e", difference)
    path.with_name(path.name + ".json").write_text(json.dumps(info, indent=2))
    log.info("Exported %s (%s, %d x %d inputs)", path, cfg.format, size, size)
    return path
