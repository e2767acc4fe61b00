"""Instance segmentation: COCO masks (polygons, RLE), masks in step with boxes through the
transforms, Mask R-CNN end to end and overfitting to mask mAP50 > 0.8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.cli.predict import predict
from visionlab.cli.train import train
from visionlab.data import InstanceDataModule
from visionlab.data.masks import coco_instance_mask, coco_rle

from .conftest import FAST_MASK_RCNN, detection_overfit_overrides

FAST_INSTANCE = ["task=instance", *FAST_MASK_RCNN, "++data.options.image_size=96"]


def test_polygons_and_both_rle_forms_decode_to_the_same_mask():
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    polygon = [[3, 2, 9, 2, 9, 5, 3, 5]]
    runs, current, count = [], 0, 0
    for value in mask.ravel(order="F"):  # uncompressed RLE: column-major run lengths from 0
        if value != current:
            runs.append(count)
            current, count = value, 0
        count += 1
    runs.append(count)
    for segmentation in (polygon, {"size": [10, 12], "counts": runs}, coco_rle(mask)):
        np.testing.assert_array_equal(coco_instance_mask(segmentation, 10, 12), mask)


def test_instance_targets_keep_masks_in_step_with_boxes(tmp_path):
    module = InstanceDataModule(
        source="shapes",
        root=str(tmp_path),
        image_size=96,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        augment="strong",
        num_workers=0,
        options={"counts": {"train": 12, "val": 4}, "image_size": 96},
    )
    module.setup("fit")
    for _ in range(3):
        for _, target in module.datasets["train"]:
            assert len(target["masks"]) == len(target["boxes"]) == len(target["labels"])
            for box, mask in zip(target["boxes"], target["masks"], strict=True):
                ys, xs = np.nonzero(mask.numpy())
                if len(xs):  # the mask lies inside its (possibly enlarged) box
                    assert xs.min() >= box[0] - 1 and xs.max() + 1 <= box[2] + 1
                    assert ys.min() >= box[1] - 1 and ys.max() + 1 <= box[3] + 1


def test_fast_dev_run_mask_rcnn(make_cfg):
    train(make_cfg(*FAST_INSTANCE, "debug=fdr", "model.backbone.pretrained=false"))


def test_predict_writes_instance_masks_in_original_size(make_cfg, tmp_path):
    cfg = make_cfg(*FAST_INSTANCE, "debug=limit", "trainer.max_epochs=1", "test=false")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    sizes = {"a.png": (50, 80), "b.jpg": (90, 40)}
    for name, (height, width) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8)).save(inputs / name)
    predict_cfg = make_cfg(
        f"ckpt_path={ckpt}", f"input={inputs}", "score_threshold=0", name="predict", run="out"
    )
    detections = json.loads(predict(predict_cfg).read_text())
    out = Path(predict_cfg.paths.output_dir)
    for name, (height, width) in sizes.items():
        ids = np.asarray(Image.open(out / "masks" / Path(name).with_suffix(".png")))
        assert ids.shape == (height, width)
    for detection in detections:
        height, width = sizes[detection["file_name"]]
        mask = coco_instance_mask(detection["segmentation"], height, width)
        assert mask.shape == (height, width)


MAP_KEYS = [f"val/{kind}{iou}" for kind in ("mAP", "mask_mAP") for iou in ("", "50", "75")]


def test_no_detections_score_zero_where_there_are_objects(make_cfg):
    """A model whose score threshold lets nothing through finds none of the val objects."""
    cfg = make_cfg(
        *FAST_INSTANCE, "model.score_threshold=1.0", "trainer.max_epochs=1",
        "trainer.limit_train_batches=1", "test=false",
    )  # fmt: skip
    train(cfg)
    metrics = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())["metrics"]
    assert {key: metrics[key] for key in MAP_KEYS} == dict.fromkeys(MAP_KEYS, 0.0)


def test_a_split_without_objects_scores_nan_and_is_never_the_best(make_cfg, tmp_path):
    from visionlab.data.shapes import write_detection

    root = tmp_path / "coco"
    write_detection(root, {"train": 4, "val": 2}, image_size=96, seed=3)
    val = json.loads((root / "annotations/val.json").read_text())
    (root / "annotations/val.json").write_text(json.dumps({**val, "annotations": []}))
    cfg = make_cfg(
        "task=instance", "data=coco", f"data.root={root}", "data.image_size=96",
        "trainer.max_epochs=2", "trainer.limit_train_batches=1", "test=false",
    )  # fmt: skip
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    assert all(np.isnan(metrics[key]) for key in MAP_KEYS), metrics
    with (run_dir / "metrics.csv").open() as file:
        header = file.readline()
    assert "val/mask_mAP50_best" not in header  # no best value was ever recorded
    last = torch.load(run_dir / "checkpoints/last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # NaN did not stop the run early
    scores = [
        state["best_model_score"]
        for name, state in last["callbacks"].items()
        if name.startswith("ModelCheckpoint") and state["monitor"] == "val/mask_mAP50"
    ]
    assert scores == [float("-inf")]  # NaN ranks below any value checkpointing could see


@pytest.mark.slow  # about 3 minutes on 2 CPU cores
def test_overfitting_a_few_images_reaches_mask_map50_above_0_8(make_cfg, detection_overfit_root):
    cfg = make_cfg("task=instance", *detection_overfit_overrides(detection_overfit_root, 30))
    assert train(cfg) > 0.8
