"""`data.batch_size=auto`: the largest batch under a memory limit, decided by rank 0 for all."""

from __future__ import annotations

import re

import pytest

from visionlab.callbacks.batch_size import parse_memory
from visionlab.errors import ConfigError

from .conftest import FAST, run_python

PEAK = re.compile(r"Batch (\d+): peak memory ([\d.]+) of")


def test_memory_limits_read_as_fractions_or_sizes():
    assert parse_memory(0.5, 1000) == 500
    assert parse_memory("1.5GB", 0) == 1.5 * 2**30
    assert parse_memory("512mb", 0) == 512 * 2**20
    for wrong in (1.5, "lots"):
        with pytest.raises(ConfigError, match="data.memory_limit"):
            parse_memory(wrong, 1000)


def _search(tmp_path, data_dir, name: str, limit: str) -> str:
    """A 2-rank run with `data.batch_size=auto`: its log."""
    done = run_python(
        "train.py", *FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={tmp_path / name}",
        "data.image_size=128", "++data.options.image_size=128", "data.batch_size=auto",
        "data.max_batch_size=16", f"data.memory_limit={limit}", "trainer=ddp_sim",
        "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
        "test=false",
    )  # fmt: skip
    return done.stdout + done.stderr


def test_auto_batch_size_fits_the_memory_limit_on_every_rank(tmp_path, data_dir):
    loose = _search(tmp_path, data_dir, "loose", "0.95")
    assert "rank 0 uses 16" in loose and "rank 1 uses 16" in loose
    peaks = {int(size): float(gb) for size, gb in PEAK.findall(loose)}
    assert sorted(peaks) == [1, 2, 4, 8, 16]
    assert peaks[16] > peaks[4], peaks  # a larger batch needs more memory
    limit = (peaks[4] + peaks[8]) / 2
    tight = _search(tmp_path, data_dir, "tight", f"{limit:.4f}GB")
    assert "rank 0 uses 4" in tight and "rank 1 uses 4" in tight, tight[-3000:]
