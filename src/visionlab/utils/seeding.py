"""Seeding every generator a run draws from."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) without Lightning's log line."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
