"""Segmentation task: metrics from the confusion matrix, ignored pixels, every model and mask
source end to end, overfitting, checkpoints, evaluation and W&B mask overlays."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassJaccardIndex

from visionlab import load_model
from visionlab.cli.evaluate import evaluate
from visionlab.cli.predict import predict
from visionlab.cli.train import train
from visionlab.data.shapes import CLASS_NAMES, write_segmentation
from visionlab.metrics import segmentation_scores
from visionlab.utils.checkpoint import read_checkpoint

from .conftest import model_configs, overfit_overrides

SEGMENT_MODELS = model_configs("segment")
SHAPES_CLASSES = ["background", *CLASS_NAMES]
SEG = ["task=segment", "data.image_size=64", "++data.options.image_size=64"]


def test_scores_by_hand_from_a_confusion_matrix():
    # rows: true class; class 3 is predicted 5 times but never true
    confusion = torch.tensor([[50, 2, 3, 0], [4, 30, 1, 5], [6, 0, 10, 0], [0, 0, 0, 0]])
    scores = segmentation_scores(confusion)
    iou = [50 / (55 + 60 - 50), 30 / (40 + 32 - 30), 10 / (16 + 14 - 10)]
    dice = [100 / (55 + 60), 60 / (40 + 32), 20 / (16 + 14)]
    assert scores["iou_per_class"][:3].tolist() == pytest.approx(iou)
    assert math.isnan(scores["iou_per_class"][3])  # no true pixel: absent, not 0
    assert math.isnan(scores["dice_per_class"][3])
    assert scores["mIoU"].item() == pytest.approx(np.mean(iou))
    assert scores["dice"].item() == pytest.approx(np.mean(dice))
    assert scores["pixel_acc"].item() == pytest.approx(90 / 111)


def test_miou_matches_torchmetrics_and_ignores_ignored_pixels():
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (3, 20, 20), generator=generator)
    preds = torch.where(
        torch.rand(target.shape, generator=generator) < 0.7,
        target,
        torch.randint(0, 4, target.shape, generator=generator),
    )
    target[:, :5] = 255
    confusion = MulticlassConfusionMatrix(4, ignore_index=255)
    ours = segmentation_scores(confusion(preds, target))
    jaccard = MulticlassJaccardIndex(4, average="none", ignore_index=255)(preds, target)
    assert ours["iou_per_class"].float() == pytest.approx(jaccard, abs=1e-6)
    scrambled = preds.clone()
    scrambled[:, :5] = (scrambled[:, :5] + 1) % 4  # change predictions on ignored pixels only
    again = segmentation_scores(MulticlassConfusionMatrix(4, ignore_index=255)(scrambled, target))
    assert again["mIoU"] == ours["mIoU"] and again["pixel_acc"] == ours["pixel_acc"]


@pytest.mark.parametrize("model", SEGMENT_MODELS)
def test_fast_dev_run_every_model(make_cfg, model):
    train(make_cfg(*SEG, f"model={model}", "debug=fdr", "model.backbone.pretrained=false"))


def test_fast_dev_run_plain_unet_with_interpolation(make_cfg):
    train(
        make_cfg(
            *SEG,
            "debug=fdr",
            "model.backbone.name=plain",
            "+model.backbone.channels=[8,16,32]",
            "model.upsampling=interpolate",
        )
    )


@pytest.fixture(scope="module")
def mask_roots(tmp_path_factory) -> dict[str, Path]:
    """The same small shapes scenes with index, palette and RGB colour masks."""
    index = tmp_path_factory.mktemp("index_masks")
    write_segmentation(index, {"train": 12, "val": 6}, image_size=64, seed=2)
    roots = {"index": index}
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    for kind in ("palette", "colour"):
        root = tmp_path_factory.mktemp(f"{kind}_masks")
        shutil.copytree(index / "images", root / "images")
        for mask_path in sorted((index / "masks").rglob("*.png")):
            ids = np.asarray(Image.open(mask_path))
            if kind == "palette":
                image = Image.fromarray(ids, mode="L").convert("P")
                image.putpalette(colours.ravel().tolist())
                image.putdata(ids.ravel().tolist())
            else:
                image = Image.fromarray(colours[ids])
            target = root / mask_path.relative_to(index)
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(target)
        roots[kind] = root
    return roots


@pytest.mark.parametrize("kind", ["index", "palette", "colour"])
def test_fast_dev_run_every_mask_source(make_cfg, mask_roots, kind):
    names = "[" + ",".join(SHAPES_CLASSES) + "]"
    table = "{background:[0,0,0],circle:[255,0,0],square:[0,255,0],triangle:[0,0,255]}"
    labels = f"data.options.colors={table}" if kind == "colour" else f"data.options.classes={names}"
    train(make_cfg(*SEG, "data=masks", f"data.root={mask_roots[kind]}", labels, "debug=fdr"))


@pytest.fixture(scope="module")
def overfit_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seg_overfit")
    write_segmentation(root, {"train": 4}, image_size=96, seed=3)
    return root


@pytest.mark.parametrize(("model", "epochs"), [("unet", 60), ("fcn8s", 40)])
def test_overfitting_a_few_images_reaches_miou_above_0_9(make_cfg, overfit_root, model, epochs):
    cfg = make_cfg(
        "task=segment",
        f"model={model}",
        "data=masks",
        f"data.root={overfit_root}",
        "data.options.classes=[" + ",".join(SHAPES_CLASSES) + "]",
        "++data.options.splits={train:{images:images/train,masks:masks/train},"
        "val:{images:images/train,masks:masks/train}}",
        "data.image_size=96",
        "data.augment=none",
        "data.batch_size=4",
        "task.loss.kind=ce_dice",  # Dice pulls up the smallest class (triangles) sooner
        "task.optimizer.lr=1e-2",
        *overfit_overrides(epochs),
    )
    assert train(cfg) > 0.9


@pytest.fixture(scope="module")
def segment_run(tmp_path_factory, data_dir) -> Path:
    """Two epochs of UNet on shapes with median-frequency weights and plots every epoch."""
    from tests.conftest import FAST, REPO
    from visionlab.utils.config import compose_config

    run_dir = tmp_path_factory.mktemp("segment") / "run"
    overrides = [
        *FAST,
        *SEG,
        "model.backbone.pretrained=false",
        "task.loss.class_weights=median_frequency",
        "task.loss.kind=ce_dice",
        "task.plot_every_n_epochs=1",
        "trainer.max_epochs=2",
    ]
    train(compose_config("train", overrides, run_dir, REPO, data_dir))
    return run_dir


def test_run_writes_metrics_plots_and_a_weights_only_checkpoint(segment_run):
    results = json.loads((segment_run / "results.json").read_text())["metrics"]
    for key in ("val/mIoU", "val/dice", "val/pixel_acc", "test/mIoU", "val/IoU/circle"):
        assert 0.0 <= results[key] <= 1.0, key
    for name in ("per_class_iou_val.png", "confusion_matrix_val.png", "predictions_val_epoch1.png"):
        assert (segment_run / "plots" / name).is_file(), name
    assert (segment_run / "per_class_iou_val.csv").read_text().startswith("class,IoU,dice,pixels")
    checkpoint = read_checkpoint(segment_run / "checkpoints" / "best.ckpt")
    weights = checkpoint["hyper_parameters"]["loss"]["class_weights"]
    assert len(weights) == 4 and all(isinstance(w, float) for w in weights)


def test_evaluate_reproduces_val_miou(segment_run, make_cfg):
    results = json.loads((segment_run / "results.json").read_text())
    ckpt = results["best_checkpoint"]
    metrics = evaluate(make_cfg(f"ckpt_path={ckpt}", "split=val", name="eval"))
    assert metrics["val/mIoU"] == pytest.approx(results["metrics"]["val/mIoU"], abs=1e-6)
    task = load_model(ckpt)
    probs = task.predict_proba(torch.zeros(1, 3, 64, 64))
    assert probs.shape == (1, 4, 64, 64)
    assert torch.allclose(probs.sum(1), torch.ones(1, 64, 64))


def test_predict_writes_masks_in_original_size(segment_run, make_cfg, tmp_path):
    rng = np.random.default_rng(0)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    sizes = {"wide.jpg": (40, 90), "tall.png": (77, 31)}
    for name, (height, width) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8)).save(inputs / name)
    ckpt = json.loads((segment_run / "results.json").read_text())["best_checkpoint"]
    cfg = make_cfg(f"ckpt_path={ckpt}", f"input={inputs}", name="predict", run="predict")
    summary = json.loads(predict(cfg).read_text())
    assert sorted(r["file_name"] for r in summary) == sorted(sizes)
    out = Path(cfg.paths.output_dir)
    for name, (height, width) in sizes.items():
        mask = np.asarray(Image.open(out / "masks" / Path(name).with_suffix(".png")))
        overlay = Image.open(out / "overlays" / Path(name).with_suffix(".png"))
        assert mask.shape == (height, width) and overlay.size == (width, height)
        assert mask.max() < len(SHAPES_CLASSES)
    assert all(sum(r["pixels_per_class"].values()) in (40 * 90, 77 * 31) for r in summary)


def test_wandb_gets_mask_overlays(make_cfg, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = make_cfg(
        *SEG,
        "model.backbone.pretrained=false",
        "logger=wandb",
        "debug=limit",
        "trainer.max_epochs=1",
        "task.plot_every_n_epochs=1",
        "test=false",
    )
    train(cfg)
    (run,) = (Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*")
    masks = list(run.rglob("media/images/mask/**/*.mask.png"))
    assert len(masks) >= 2, "no W&B mask overlays were written"
    assert set(np.unique(np.asarray(Image.open(masks[0])))) <= {0, 1, 2, 3, 255}
