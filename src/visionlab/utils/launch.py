"""How a run's processes start, checked before anything is built: Lightning's own DDP
launcher, torchrun, SLURM (`srun`) or submitit's executors, which run one task per process."""

from __future__ import annotations

import os

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, ListConfig

from visionlab.errors import ConfigError


def processes_per_run(trainer: DictConfig) -> int:
    """`trainer.num_nodes` x `trainer.devices` (-1/auto: the visible GPUs, else 1)."""
    devices = trainer.get("devices", 1)
    if devices in (-1, "-1", "auto"):
        devices = torch.cuda.device_count() if trainer.get("accelerator") != "cpu" else 1
    count = len(devices) if isinstance(devices, (list, ListConfig)) else int(devices)
    return max(1, count) * int(trainer.get("num_nodes") or 1)


def join_submitit_tasks(cfg: DictConfig) -> bool:
    """Whether this process takes part in the run. In a job of submitit's local executor with
    several tasks (`hydra/launcher=local`), each task gets its rank and the group's address
    as torchrun would give them (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
    `MASTER_PORT`), so Lightning treats the tasks as the DDP processes and starts none itself;
    a job of one process runs in task 0 and the other tasks stand down (a sweep's jobs share
    one task count). SLURM jobs need nothing: Lightning reads SLURM's variables."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "local" or "LOCAL_RANK" in os.environ:
        return True
    tasks = int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1"))
    if tasks > 1 and processes_per_run(cfg.trainer) == 1:
        return os.environ.get("SUBMITIT_LOCAL_GLOBALID") == "0"
    if tasks > 1:
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    return True


def check_launch(cfg: DictConfig) -> None:
    """Refuse, in one line, launches that would hang or run the wrong processes:

    - `-m` with a DDP strategy that starts its processes by re-running the command (each
      would re-run the whole sweep); processes started by SLURM, torchrun or submitit are fine;
    - a job whose task count (SLURM's, or submitit's) differs from
      `trainer.num_nodes` x `trainer.devices`.
    """
    processes = processes_per_run(cfg.trainer)
    layout = (
        f"trainer.num_nodes={cfg.trainer.get('num_nodes') or 1} x "
        f"trainer.devices={cfg.trainer.get('devices', 1)} = {processes} processes"
    )  # a submitit job's surplus tasks have stood down (join_submitit_tasks)
    if SLURMEnvironment.detect() and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        tasks, nodes = int(os.environ["SLURM_NTASKS"]), int(os.environ.get("SLURM_NNODES", "1"))
        if tasks != processes or nodes != int(cfg.trainer.get("num_nodes") or 1):
            raise ConfigError(
                f"SLURM started {tasks} tasks on {nodes} node(s) (SLURM_NTASKS, SLURM_NNODES) "
                f"but {layout}: run one task per device (--nodes=trainer.num_nodes, "
                "--ntasks-per-node=trainer.devices)"
            )
    tasks = int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1"))
    if os.environ.get("SUBMITIT_EXECUTOR") == "local" and processes > 1 and tasks != processes:
        raise ConfigError(
            f"submitit runs this job as {tasks} task(s) but {layout}: use hydra/launcher=local "
            f"(one task per device) or set hydra.launcher.tasks_per_node={processes}"
        )
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    strategy = str(cfg.trainer.get("strategy", "auto"))
    external = (
        os.environ.get("WORLD_SIZE") or int(os.environ.get("SLURM_NTASKS", "1")) > 1 or tasks > 1
    )
    if (
        multirun
        and strategy.startswith("ddp")
        and not strategy.startswith("ddp_spawn")
        and processes > 1
        and not external
    ):
        raise ConfigError(
            f"-m with trainer.strategy={strategy} would re-run the whole sweep in every DDP "
            "process (each is started by re-running this command). Use hydra/launcher=local "
            "(submitit, one task per process) or hydra/launcher=slurm, or "
            "trainer.strategy=ddp_spawn"
        )
