"""Shared fixtures: Hydra configs composed like the entry points do, small shapes data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from visionlab.utils.config import compose_config

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"

# Small, fast shapes runs: 64 px images, 16-image batches, no worker processes.
FAST = [
    "++data.options.counts={train:48,val:21,test:21}",
    "data.image_size=64",
    "++data.options.image_size=64",
    "data.batch_size=16",
    "data.num_workers=0",
    "extras.print_config=false",
]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One generated-data folder for the whole session (shapes is generated once)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def make_cfg(tmp_path, data_dir) -> Callable[..., DictConfig]:
    """`make_cfg(*overrides, name="train", run="run")` -> a composed config for a fast run."""

    def make(
        *overrides: str, name: str = "train", run: str = "run", fast: bool = True
    ) -> DictConfig:
        extra = FAST if (fast and name == "train") else []
        return compose_config(name, [*extra, *overrides], tmp_path / run, REPO, data_dir)

    yield make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def imagefolder_root(tmp_path_factory) -> Path:
    """A small ImageFolder dataset: train/ and val/ with three shape classes."""
    from visionlab.data.shapes import write_classification

    root = tmp_path_factory.mktemp("imagefolder")
    write_classification(root, {"train": 12, "val": 6}, image_size=48, seed=1)
    return root


@pytest.fixture(scope="session")
def csv_root(imagefolder_root, tmp_path_factory) -> Path:
    """The ImageFolder images listed in train.csv / val.csv (`path,label`)."""
    root = tmp_path_factory.mktemp("csv")
    for split in ("train", "val"):
        rows = ["path,label"]
        for image in sorted((imagefolder_root / split).rglob("*.png")):
            target = root / "images" / split / f"{image.parent.name}_{image.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.read_bytes())
            rows.append(f"{target.relative_to(root)},{image.parent.name}")
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root
