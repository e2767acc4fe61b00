"""`data.batch_size=auto`: the largest training batch whose step fits a memory budget."""

from __future__ import annotations

import copy
import itertools
import logging
from pathlib import Path

import lightning as L
import torch

from visionlab.errors import ConfigError

log = logging.getLogger("visionlab")
PROC_STATUS, CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")
MEMINFO = Path("/proc/meminfo")


def parse_memory(limit: float | str, total: int) -> int:
    """Bytes from a fraction of `total` (0.8) or a size ("12GB", "512MB")."""
    if isinstance(limit, int | float):
        if not 0 < limit <= 1:
            raise ConfigError(
                f"data.memory_limit={limit}: a fraction in (0, 1] or a size like 12GB"
            )
        return int(limit * total)
    units = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
    text = str(limit).strip().upper()
    for unit, size in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * size)
    raise ConfigError(f"data.memory_limit={limit}: a fraction in (0, 1] or a size like 12GB")


def proc_bytes(path: Path, key: str) -> int:
    """A `key: <n> kB` line of a Linux /proc file, in bytes."""
    for line in path.read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise ConfigError("data.batch_size=auto on CPU needs Linux's /proc to measure memory")


def total_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return proc_bytes(MEMINFO, "MemTotal")


def peak_memory(device: torch.device, step) -> int:
    """Peak memory of `step()`: allocated GPU memory, or on CPU the process's peak resident
    set (Linux's VmHWM, reset first), where no out-of-memory error would warn in time."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        return torch.cuda.max_memory_allocated(device)
    CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident set
    step()
    return proc_bytes(PROC_STATUS, "VmHWM")


class BatchSizeSearch(L.Callback):
    """Before fitting, run a training step (forward and backward of a copy of the network)
    at batches of 1, 2, 4, ... up to `data.max_batch_size`, and keep the largest whose peak
    memory stays under `data.memory_limit`. Rank 0 decides and every DDP rank uses its choice.
    The data module's batch sizes and the run's recorded config take the number."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if stage != "fit" or datamodule.batch_size != "auto":
            return
        device = trainer.strategy.root_device
        chosen = self.search(pl_module, datamodule, device) if trainer.is_global_zero else 0
        chosen = trainer.strategy.broadcast(chosen, src=0)
        if not chosen:
            raise ConfigError(
                "data.batch_size=auto: one image already needs more memory than "
                f"data.memory_limit={datamodule.memory_limit} allows (the sizes are logged above)"
            )
        datamodule.batch_size = datamodule.eval_batch_size = chosen
        pl_module.run_config.setdefault("data", {})["batch_size"] = chosen
        log.info("data.batch_size=auto: rank %d uses %d", trainer.global_rank, chosen)

    @staticmethod
    def search(task, datamodule, device: torch.device) -> int:
        """The largest power of two that fits (0: not even one image)."""
        budget = parse_memory(datamodule.memory_limit, total_memory(device))
        items = itertools.cycle(datamodule.datasets["train"])
        collate = datamodule.collate(train=False) or torch.utils.data.default_collate
        model = copy.deepcopy(task.model).to(device).train()

        def step(size: int) -> None:
            batch = collate(list(itertools.islice(items, size)))
            task.probe_loss(model, batch, device).backward()
            model.zero_grad(set_to_none=True)

        chosen, size = 0, 1
        while size <= datamodule.max_batch_size:
            peak = peak_memory(device, lambda size=size: step(size))
            log.info("Batch %d: peak memory %.2f of %.2f GB", size, peak / 2**30, budget / 2**30)
            if peak > budget:
                break
            chosen, size = size, size * 2
        return chosen
