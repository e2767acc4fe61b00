"""Detection training recipes: mosaic, multi-scale batches and anchor sizes from the data."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from visionlab.cli.train import train
from visionlab.data.mosaic import MosaicSampler, mosaic, resize_batch
from visionlab.models.detector_adapter import auto_anchor_sizes

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]])


def _scene(rng: np.random.Generator, height: int, width: int, count: int):
    """A black image with `count` solid rectangles, each in the colour of its label."""
    image = np.zeros((height, width, 3), np.uint8)
    boxes, labels = [], []
    for _ in range(count):
        w, h = rng.integers(8, width // 2), rng.integers(8, height // 2)
        x, y = rng.integers(0, width - w), rng.integers(0, height - h)
        label = int(rng.integers(len(COLOURS)))
        image[y : y + h, x : x + w] = COLOURS[label]
        boxes.append([x, y, x + w, y + h])
        labels.append(label)
    return image, np.array(boxes, np.float32), np.array(labels)


@pytest.mark.parametrize("seed", range(5))
def test_mosaic_boxes_stay_inside_and_match_their_objects(seed):
    rng = np.random.default_rng(seed)
    scenes = [
        _scene(rng, int(rng.integers(60, 160)), int(rng.integers(60, 160)), 1) for _ in "abcd"
    ]
    centre = tuple(rng.uniform(0.5, 1.5, 2))
    image, boxes, labels = mosaic(scenes, 128, centre)
    assert image.shape == (128, 128, 3) and len(boxes) == len(labels)
    assert (boxes >= 0).all() and (boxes <= 128).all()
    for (x0, y0, x1, y1), label in zip(boxes.round().astype(int), labels, strict=True):
        inner = image[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].reshape(-1, 3)  # edges are interpolated
        if len(inner):
            assert (np.abs(inner.astype(int) - COLOURS[label]).max(axis=1) < 40).mean() > 0.95


def test_mosaic_drops_what_leaves_the_frame():
    """A centre at the corner pushes three of the four images almost out of the middle."""
    scene = _scene(np.random.default_rng(0), 100, 100, 1)
    full = mosaic([scene] * 4, 100, (1.0, 1.0))[1]
    corner = mosaic([scene] * 4, 100, (1.5, 1.5))[1]
    assert len(corner) < len(full)


def test_mosaic_sampler_repeats_with_its_seed_and_stops_when_disabled():
    def draws(enabled: bool, seed: int) -> list:
        sampler = MosaicSampler(20, 0.5, lambda: enabled, torch.Generator().manual_seed(seed))
        return list(sampler)

    assert draws(True, 3) == draws(True, 3) != draws(True, 4)
    assert 3 < sum(bool(p) for _, p, _ in draws(True, 3)) < 17
    assert not any(p for _, p, _ in draws(False, 3))
    assert sorted(i for i, _, _ in draws(True, 3)) == list(range(20))


def test_resize_batch_scales_boxes_and_masks():
    images = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[8.0, 16.0, 32.0, 48.0]]), "labels": torch.tensor([1]),
                "masks": torch.ones(1, 64, 64, dtype=torch.uint8)}] * 2  # fmt: skip
    resized, out = resize_batch(images, targets, 96)
    assert resized.shape == (2, 3, 96, 96)
    assert out[0]["boxes"].tolist() == [[12.0, 24.0, 48.0, 72.0]]
    assert out[0]["masks"].shape == (1, 96, 96) and out[0]["masks"].dtype == torch.uint8


class BackboneInputs(L.Callback):
    """Records the size of what reaches the backbone, per stage."""

    def __init__(self) -> None:
        self.sizes: dict[str, list] = {"train": [], "eval": []}

    def on_fit_start(self, trainer, pl_module) -> None:
        model = pl_module.model
        backbone = model.backbone.body if hasattr(model.backbone, "body") else model.backbone

        def record(module, args):
            stage = "train" if pl_module.training else "eval"
            self.sizes[stage].append(tuple(args[0].shape[-2:]))

        backbone.register_forward_pre_hook(record)


@pytest.mark.parametrize("model", ["yolov1", "faster_rcnn"])
def test_multi_scale_reaches_the_backbone_and_evaluation_stays_fixed(make_cfg, model):
    cfg = make_cfg(
        "task=detect", f"model={model}", "model.backbone.pretrained=false",
        "data.multi_scale=[0.5,1.5]", "trainer.max_epochs=1", "trainer.limit_train_batches=6",
        "trainer.limit_val_batches=1", "trainer.num_sanity_val_steps=0", "test=false",
        "data.batch_size=4", "data.mosaic=0.5",
    )  # fmt: skip
    inputs = BackboneInputs()
    train(cfg, callbacks=[inputs])
    trained = set(inputs.sizes["train"])
    assert len(trained) >= 2, trained
    assert all(h == w and h % 32 == 0 and 32 <= h <= 96 for h, w in trained)
    assert set(inputs.sizes["eval"]) == {(64, 64)}


def test_auto_anchor_sizes_span_the_objects():
    sides = np.geomspace(10, 1000, 500)
    sizes = auto_anchor_sizes(sides, np.zeros(500, np.int64), 4)
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    low, high = np.percentile(sides, [5, 95])
    assert sizes[0] == pytest.approx(low, abs=1) and sizes[-1] == pytest.approx(high, abs=1)
    alike = auto_anchor_sizes(np.full(50, 40.0), np.zeros(50, np.int64), 4)
    assert alike == sorted(set(alike)) and alike[1] < 40 < alike[2]


def test_auto_anchor_sizes_cover_a_rare_class_of_another_size():
    """Many mid-sized objects, few small and few large ones (blood cells: red cells, platelets,
    white cells): the anchors reach the small class's 5th and the large class's 95th percentile,
    not only the bulk's."""
    rng = np.random.default_rng(0)
    small, bulk, large = rng.uniform(20, 35, 60), rng.uniform(55, 85, 900), rng.uniform(80, 170, 60)
    sides = np.concatenate([small, bulk, large])
    labels = np.repeat([0, 1, 2], [60, 900, 60])
    sizes = auto_anchor_sizes(sides, labels, 4)
    assert sizes[0] == pytest.approx(np.percentile(small, 5), abs=1)
    assert sizes[-1] == pytest.approx(np.percentile(large, 95), abs=1)
    assert sizes[-1] > np.percentile(sides, 95) + 40


def test_auto_anchor_sizes_reach_the_config_the_report_and_the_checkpoint(make_cfg):
    import json

    import yaml

    from visionlab.utils.checkpoint import read_checkpoint

    cfg = make_cfg(
        "task=detect", "model=faster_rcnn", "model.backbone.pretrained=false",
        "model.anchor_sizes=auto", "trainer.max_epochs=1", "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1", "test=false",
    )  # fmt: skip
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    sizes = json.loads((run_dir / "data_report.json").read_text())["anchor_sizes"]
    assert len(sizes) == 4 and sizes == sorted(sizes)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["anchor_sizes"] == sizes
    checkpoint = read_checkpoint(run_dir / "checkpoints/last.ckpt")
    assert list(checkpoint["hyper_parameters"]["model"]["anchor_sizes"]) == sizes
