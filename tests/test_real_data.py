"""Real-data acceptance runs (slow: minutes each). Run with `pytest -m slow`."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA
from visionlab.cli.train import train

HYMENOPTERA = SHARED_DATA / "hymenoptera_data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HYMENOPTERA.is_dir(), reason="../shared/data/hymenoptera_data absent"),
]


@pytest.mark.parametrize(
    ("pretrained", "low", "high"),
    [(True, 0.92, 1.0), (False, 0.0, 0.8)],
    ids=["imagenet-pretrained", "from-scratch"],
)
def test_hymenoptera_transfer_learning(make_cfg, pretrained, low, high):
    cfg = make_cfg(
        "experiment=hymenoptera",
        f"model.backbone.pretrained={str(pretrained).lower()}",
        "extras.print_config=false",
        fast=False,
    )
    val_acc = train(cfg)
    assert low <= val_acc <= high
