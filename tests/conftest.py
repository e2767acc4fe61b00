"""Shared fixtures: Hydra configs composed like the entry points do, small shapes data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

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


def compose_config(
    overrides: list[str], run_dir: Path, data_dir: Path, config_name: str = "train"
) -> DictConfig:
    """Compose `conf/<config_name>.yaml` as Hydra would, with paths inside `run_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(REPO)
        cfg.paths.output_dir = str(run_dir)
        cfg.paths.log_dir = str(run_dir.parent)
        cfg.paths.data_dir = str(data_dir)
        del cfg["hydra"]
    return cfg


@pytest.fixture
def make_cfg(tmp_path, data_dir) -> Callable[..., DictConfig]:
    """`make_cfg(*overrides, name="train", run="run")` -> a composed config for a fast run."""

    def make(*overrides: str, name: str = "train", run: str = "run", fast: bool = True) -> DictConfig:
        extra = FAST if (fast and name == "train") else []
        return compose_config([*extra, *overrides], tmp_path / run, data_dir, name)

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
