"""Run folder files: the resolved config, run metadata and the final metrics summary."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

PACKAGES = (
    "visionlab",
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "timm",
    "torchmetrics",
    "albumentations",
    "wandb",
    "numpy",
)


def git_sha(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_run_files(cfg: DictConfig, run_dir: Path, run_id: str, world_size: int = 1) -> None:
    """Write `config.yaml` (resolved) and `run.json` (who, where, which code, which config
    groups, how many processes) into `run_dir`. A resumed run keeps its `run.json` and adds to
    its `resumed` list."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    command = [Path(sys.argv[0]).name, *sys.argv[1:]]
    meta_path = run_dir / "run.json"
    if cfg.get("resume") and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        resumed = {"time": now, "command": command, "world_size": world_size}
        meta.setdefault("resumed", []).append(resumed)
    else:
        choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
        meta = {
            "run_id": run_id,
            "started": now,
            "command": command,
            "choices": {k: v for k, v in choices.items() if not k.startswith("hydra/")},
            "git_sha": git_sha(Path(__file__).parent),
            "host": socket.gethostname(),
            "world_size": world_size,
            "python": platform.python_version(),
            "packages": package_versions(),
        }
    meta_path.write_text(json.dumps(meta, indent=2))


def run_id_for(run_dir: Path, log_dir: Path) -> str:
    """The run folder's path below `logs/<task>/`, joined by '-' (also the W&B run id)."""
    try:
        parts = run_dir.resolve().relative_to(log_dir.resolve()).parts[1:]
    except ValueError:
        parts = ()
    return "-".join(parts) or run_dir.name
