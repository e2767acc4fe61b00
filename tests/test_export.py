"""ONNX and TorchScript export of every architecture, checked against eager PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from visionlab.cli.export import export
from visionlab.cli.train import train
from visionlab.models import model_spec
from visionlab.utils.config import model_tasks

from .conftest import CONF_DIR, FAST_MASK_RCNN, model_configs

MODELS = {
    option: [f"task={model_tasks(option)[0]}", f"model={option}", "model.backbone.pretrained=false"]
    + (FAST_MASK_RCNN if model_tasks(option)[0] == "instance" else [])
    for option in model_configs()
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data_dir) -> dict[str, Path]:
    """One briefly trained checkpoint per architecture."""
    from hydra.core.global_hydra import GlobalHydra

    from visionlab.utils.config import compose_config

    from .conftest import FAST, NO_REPORTS, REPO

    found = {}
    for name, overrides in MODELS.items():
        run_dir = tmp_path_factory.mktemp(name)
        extra = ["trainer.max_epochs=1", "trainer.limit_train_batches=1", "test=false", *NO_REPORTS]
        extra += ["trainer.limit_val_batches=1", "trainer.num_sanity_val_steps=0"]
        cfg = compose_config("train", [*FAST, *overrides, *extra], run_dir, REPO, data_dir)
        train(cfg)
        found[name] = run_dir / "checkpoints" / "last.ckpt"
    GlobalHydra.instance().clear()
    return found


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("model", MODELS)
def test_export_matches_eager(make_cfg, checkpoints, model, fmt):
    cfg = make_cfg(f"ckpt_path={checkpoints[model]}", f"format={fmt}", name="export")
    path = export(cfg)
    info = json.loads(path.with_name(path.name + ".json").read_text())
    assert info["max_abs_difference"] <= 1e-4
    arch = OmegaConf.load(CONF_DIR / "model" / f"{model}.yaml").arch
    assert info["input"]["images"][0] == (1 if model_spec(arch).export.one_image else -1)
