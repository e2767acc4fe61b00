"""Continuing a run in its own folder: `python train.py resume=<run dir> [key=value ...]`.

The run's saved config comes back with the command line's value overrides on top (raise
`trainer.max_epochs`, say); training continues from `checkpoints/last.ckpt`, and the W&B run of
the same id continues too. `resume=auto` picks the newest run of the same task and experiment.
"""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from visionlab.errors import ConfigError
from visionlab.utils.config import config_dir

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def _value(argv: list[str], key: str) -> str | None:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"{key}=")), None)


def latest_run(log_dir: Path, task: str, experiment: str | None) -> Path | None:
    """The run folder under `log_dir/task` with the newest `last.ckpt` whose run was started
    with the same `experiment` config."""
    candidates = []
    for checkpoint in (log_dir / task).glob(f"**/{LAST_CHECKPOINT}"):
        run_dir = checkpoint.parent.parent
        try:
            choices = json.loads((run_dir / "run.json").read_text()).get("choices", {})
        except (OSError, json.JSONDecodeError):
            continue
        if choices.get("experiment") == experiment:
            candidates.append((checkpoint.stat().st_mtime, run_dir))
    return max(candidates)[1] if candidates else None


def resume_dir(value: str, cfg: DictConfig, choices: dict) -> Path:
    """The run folder `resume=<value>` names in the composed `cfg` (with its group `choices`)."""
    if value == "auto":
        experiment = choices.get("experiment")
        found = latest_run(Path(cfg.paths.log_dir), cfg.task.name, experiment)
        if found is None:
            raise ConfigError(
                f"resume=auto: no run of task={cfg.task.name} experiment={experiment} with "
                f"{LAST_CHECKPOINT} under {cfg.paths.log_dir}"
            )
        return found.resolve()
    run_dir = Path(value).expanduser().resolve()
    if not (run_dir / LAST_CHECKPOINT).is_file() or not (run_dir / "config.yaml").is_file():
        raise ConfigError(
            f"resume={value}: not a run folder to continue (it needs config.yaml and "
            f"{LAST_CHECKPOINT})"
        )
    return run_dir


def resume_argv(argv: list[str]) -> list[str]:
    """`argv` with `hydra.run.dir` pointing at the run to resume, so the continued run logs
    into its own folder. Left unchanged when there is nothing (valid) to resume; training then
    reports why."""
    value = _value(argv, "resume")
    if value in (None, "null") or _value(argv, "hydra.run.dir"):
        return argv
    overrides = [a for a in argv[1:] if "=" in a and not a.startswith("resume=")]
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        run_dir = resume_dir(value, cfg, cfg.hydra.runtime.choices)
    except ConfigError:
        return argv
    return [*argv, f"hydra.run.dir={run_dir}"]


def restore_config(cfg: DictConfig) -> DictConfig:
    """The saved config of the run `cfg.resume` names, with this command's value overrides.

    Group choices (`model=...`) cannot change on resume and are refused.
    """
    hydra = HydraConfig.get()
    run_dir = resume_dir(str(cfg.resume), cfg, hydra.runtime.choices)
    saved = OmegaConf.load(run_dir / "config.yaml")
    for override in OverridesParser.create().parse_overrides(list(hydra.overrides.task)):
        key = override.key_or_group
        if key in ("resume", "hydra.run.dir") or key.startswith("hydra"):
            continue
        if key in hydra.runtime.choices:
            raise ConfigError(
                f"resume keeps the run's config groups; '{override.input_line}' would change "
                f"{key}. Override values only (e.g. trainer.max_epochs=20), or start a new run"
            )
        with open_dict(saved):
            if override.is_delete():
                OmegaConf.update(saved, key, None)
            else:
                OmegaConf.update(saved, key, override.value(), merge=False)
    with open_dict(saved):
        saved.resume = str(run_dir)
        saved.ckpt_path = str(run_dir / LAST_CHECKPOINT)
        saved.paths.output_dir = str(run_dir)
    return saved
