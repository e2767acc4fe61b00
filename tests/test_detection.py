"""Detection: every reader gives the same boxes, mAP equals pycocotools, both models run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from visionlab import load_model
from visionlab.cli.train import train
from visionlab.data.sources import read_coco, read_csv_boxes, read_voc, read_yolo
from visionlab.errors import WeightsError
from visionlab.models.detector_adapter import loss_mode
from visionlab.models.faster_rcnn import FasterRCNNDetector

from .conftest import detection_overfit_overrides, model_configs


def _by_name(index):
    return {
        s.path.name.split("_", 1)[-1]: (s.boxes, s.labels)
        for split in ("train", "val")
        for s in index.split(split)
    }


def test_every_reader_gives_the_coco_boxes(detection_roots):
    coco = read_coco(detection_roots["coco"])
    assert coco.class_names == ["circle", "square", "triangle"]
    reference = {
        f"{split}_{s.path.name}": (s.boxes, s.labels)
        for split in ("train", "val")
        for s in coco.split(split)
    }
    readers = {
        "voc": read_voc(detection_roots["voc"]),
        "yolo": read_yolo(detection_roots["yolo"]),
        "csv_boxes": read_csv_boxes(detection_roots["csv_boxes"]),
    }
    for name, index in readers.items():
        found = {
            s.path.name: (s.boxes, s.labels)
            for split in ("train", "val")
            for s in index.split(split)
        }
        assert found.keys() == reference.keys(), name
        for key, (boxes, labels) in reference.items():
            names = [coco.class_names[i] for i in labels]
            assert [index.class_names[i] for i in found[key][1]] == names, (name, key)
            assert np.allclose(found[key][0], boxes, atol=1e-3), (name, key)


def test_coco_remaps_ids_and_skips_crowds(tmp_path):
    (tmp_path / "images/train").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (50, 40)).save(tmp_path / "images/train/a.png")
    coco = {
        "images": [{"id": 7, "file_name": "a.png", "width": 50, "height": 40}],
        "categories": [{"id": 90, "name": "zebra"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 90, "bbox": [1, 2, 10, 20], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [5, 5, 10, 10], "iscrowd": 1},
        ],
    }
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/train.json").write_text(json.dumps(coco))
    index = read_coco(
        tmp_path,
        splits={"train": {"annotations": "annotations/train.json", "images": "images/train"}},
        val_fraction=0.5,
    )
    sample = (index.split("train") + index.split("val"))[0]
    assert index.class_names == ["car", "zebra"]
    assert sample.labels.tolist() == [1] and sample.boxes.tolist() == [[1, 2, 11, 22]]


def test_voc_is_one_based_and_honours_difficult(tmp_path):
    from PIL import Image

    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    Image.new("RGB", (100, 80)).save(tmp_path / "JPEGImages/x.jpg")
    (tmp_path / "Annotations/x.xml").write_text(
        "<annotation><filename>x.jpg</filename><size><width>100</width><height>80</height></size>"
        "<object><name>dog</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>100</xmax><ymax>80</ymax></bndbox></object>"
        "<object><name>dog</name><difficult>1</difficult><bndbox><xmin>5</xmin><ymin>5</ymin>"
        "<xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>"
    )
    index = read_voc(tmp_path, val_fraction=0.5)
    sample = (index.split("train") + index.split("val"))[0]
    assert sample.boxes.tolist() == [[0, 0, 100, 80]]
    kept = read_voc(tmp_path, keep_difficult=True, val_fraction=0.5)
    assert len((kept.split("train") + kept.split("val"))[0].boxes) == 2


def test_yolo_background_images_and_orphan_labels(detection_roots, tmp_path):
    import shutil

    root = tmp_path / "yolo"
    shutil.copytree(detection_roots["yolo"], root)
    first = sorted((root / "labels/train").glob("*.txt"))[0]
    first.unlink()  # its image becomes a background image
    (root / "labels/train/ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    index = read_yolo(root)
    background = [s for s in index.split("train") if s.path.stem == first.stem][0]
    assert background.boxes.shape == (0, 4)
    assert any("ghost.txt" in where and "without an image" in why for where, why in index.skipped)


def test_map_equals_pycocotools():
    pytest.importorskip("pycocotools.cocoeval")
    from visionlab.tasks.detection import map_metric

    from .conftest import pycocotools_map

    rng = np.random.default_rng(0)
    preds, targets = [], []
    for _ in range(20):
        n = rng.integers(1, 4)
        xy = rng.uniform(0, 120, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(20, 70, (n, 2))], 1)
        labels = torch.tensor(rng.integers(0, 3, n))
        noisy = boxes + rng.normal(0, 6, boxes.shape)
        scores = torch.tensor(rng.uniform(0.2, 1.0, n), dtype=torch.float32)
        preds.append({"boxes": torch.tensor(noisy).float(), "scores": scores, "labels": labels})
        targets.append({"boxes": torch.tensor(boxes).float(), "labels": labels})
    expected = pycocotools_map(preds, targets)
    metric = map_metric()
    metric.update(preds, targets)
    ours = metric.compute()
    for key, value in zip(("map", "map_50", "map_75"), expected, strict=True):
        assert ours[key].item() == pytest.approx(value, abs=1e-4)


@pytest.mark.parametrize("model", model_configs("detect"))
@pytest.mark.parametrize("source", ["shapes", "coco", "voc", "yolo", "csv_boxes"])
def test_fast_dev_run(make_cfg, detection_roots, model, source):
    data = [] if source == "shapes" else [f"data={source}", f"data.root={detection_roots[source]}"]
    train(
        make_cfg(
            "task=detect",
            f"model={model}",
            *data,
            "debug=fdr",
            "data.image_size=64",
            "++data.options.image_size=64",
        )
    )


def test_validation_loss_leaves_batchnorm_statistics_alone():
    model = FasterRCNNDetector(2, {"name": "resnet18"}, image_size=96).eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    targets = [{"boxes": torch.tensor([[5.0, 5.0, 60.0, 60.0]]), "labels": torch.tensor([1])}]
    with torch.no_grad(), loss_mode(model):
        losses = model(torch.randn(1, 3, 96, 96), targets)
    assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert not model.training
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_detection_evaluate_and_predict_from_checkpoint(make_cfg, detection_roots):
    from visionlab.cli.evaluate import evaluate
    from visionlab.cli.predict import predict

    overrides = ["data=coco", f"data.root={detection_roots['coco']}", "data.image_size=64"]
    cfg = make_cfg("task=detect", *overrides, "debug=limit", "trainer.max_epochs=1")
    results = train(cfg)
    assert results is not None
    plots = Path(cfg.paths.output_dir) / "plots"
    for name in ("labels_train", "pr_curve_val", "per_class_ap_val", "confusion_matrix_val"):
        assert (plots / f"{name}.png").stat().st_size > 10_000
    header = (plots.parent / "confusion_val.csv").read_text().splitlines()[0]
    assert header.endswith(",background")
    best = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    evaluated = evaluate(make_cfg(f"ckpt_path={best}", "split=val", name="eval", run="eval"))
    assert {"val/mAP", "val/mAP50", "val/mAP75", "val/recall"} <= set(evaluated)
    limited = make_cfg(f"ckpt_path={best}", "model.nms_iou=0.6", name="eval", run="limited")
    assert evaluate(limited).keys() == evaluated.keys()
    written = json.loads((Path(limited.paths.output_dir) / "results.json").read_text())
    assert written["limits"] == {"nms_iou": 0.6}
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():  # the limits replace the checkpoint's
        every_box = load_model(best, limits={"score_threshold": 0, "detections_per_image": 5})
        assert [len(d["scores"]) for d in every_box.model(images)] == [5, 5]
        no_box = load_model(best, limits={"score_threshold": 1.01})
        assert [len(d["scores"]) for d in no_box.model(images)] == [0, 0]
    with pytest.raises(WeightsError, match="unknown detection limit"):
        load_model(best, limits={"score_thresh": 0.1})
    images = detection_roots["coco"] / "images" / "val"
    out = predict(
        make_cfg(
            f"ckpt_path={best}", f"input={images}", "score_threshold=0", name="predict", run="p"
        )
    )
    detections = json.loads(out.read_text())
    assert detections and {"file_name", "category_id", "bbox", "score"} <= set(detections[0])
    assert len(list((out.parent / "images").glob("*.png"))) == 3
    for det in detections:
        x, y, w, h = det["bbox"]
        assert x >= -1e-3 and x + w <= 64 + 1e-3 and w >= 0 and h >= 0


def test_wandb_gets_prediction_boxes(make_cfg, detection_roots, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    root = detection_roots["coco"]
    cfg = make_cfg(
        "task=detect",
        "data=coco",
        f"data.root={root}",
        "data.image_size=64",
        "logger=wandb",
        "debug=limit",
        "trainer.max_epochs=1",
        "task.plot_every_n_epochs=1",
        "test=false",
    )
    train(cfg)
    (run,) = (Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*")
    boxes = list(run.rglob("media/metadata/boxes2D/**/*.json"))
    assert boxes, "no W&B box overlays were written"
    overlay = json.loads(boxes[0].read_text())
    assert overlay["box_data"] and overlay["box_data"][0]["domain"] == "pixel"


@pytest.mark.parametrize(
    ("model", "epochs", "optimizer"),
    [
        ("yolov1", 60, ["task.optimizer.lr=1e-3", "model.dropout=0"]),
        pytest.param(  # about 3 minutes on 2 CPU cores
            "faster_rcnn",
            30,
            ["task.optimizer.name=sgd", "task.optimizer.lr=0.01"],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_overfitting_a_few_images_reaches_map50_above_0_9(
    make_cfg, detection_overfit_root, model, epochs, optimizer
):
    cfg = make_cfg(
        "task=detect",
        f"model={model}",
        *optimizer,
        *detection_overfit_overrides(detection_overfit_root, epochs),
    )
    assert train(cfg) > 0.9


@pytest.mark.parametrize("model", ["yolov1", "faster_rcnn"])
def test_a_checkpoint_from_before_the_detector_contract_loads(make_cfg, tmp_path, model):
    """0.1 checkpoints kept thresholds, NMS ops and YOLOv1's loss under the task, and Faster
    R-CNN's thresholds as box_score_thresh / box_nms_thresh / box_detections_per_img."""
    from visionlab import load_model

    cfg = make_cfg(
        "task=detect", f"model={model}", "model.score_threshold=0.2", "model.nms_iou=0.4",
        "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
        "test=false",
    )  # fmt: skip
    train(cfg)
    checkpoint = torch.load(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt", weights_only=True)
    hparams, network = checkpoint["hyper_parameters"], checkpoint["hyper_parameters"]["model"]
    network["tasks"] = ["detect"]
    if model == "yolov1":
        for key in ("score_threshold", "nms_iou", "loss", "ops"):
            hparams[key] = network.pop(key)
    else:
        hparams |= {"score_threshold": 0.05, "nms_iou": 0.5, "loss": {}, "ops": {}}
        network["box_score_thresh"] = network.pop("score_threshold")
        network["box_nms_thresh"] = network.pop("nms_iou")
        network["box_detections_per_img"] = network.pop("detections_per_image")
    checkpoint["visionlab"]["version"] = "0.1.0"
    torch.save(checkpoint, tmp_path / "old.ckpt")
    task = load_model(tmp_path / "old.ckpt")
    assert task.hparams.model["score_threshold"] == 0.2 and task.hparams.model["nms_iou"] == 0.4
    thresholds = (
        (task.model.limits.score_threshold, task.model.limits.nms_iou)
        if model == "yolov1"
        else (task.model.roi_heads.score_thresh, task.model.roi_heads.nms_thresh)
    )
    assert thresholds == (0.2, 0.4)
    if model == "faster_rcnn":
        assert task.model.roi_heads.detections_per_img == 100
    assert all(len(p["scores"]) == 0 or p["scores"].min() >= 0.2 for p in task.predict_boxes(
        torch.rand(2, 3, 64, 64)
    ))  # fmt: skip


def test_pyramid_anchors_per_level_and_octave():
    """RetinaNet's anchors: every size at `anchor_octaves` scales and each aspect ratio; a size
    list that does not match the FPN levels is refused by name."""
    from visionlab.models.retinanet import RetinaNetDetector

    backbone = {"name": "tf_efficientnet_lite0"}
    model = RetinaNetDetector(num_classes=2, backbone=backbone, anchor_octaves=2)
    assert model.anchor_generator.sizes[0] == (32, 45)
    assert model.head.classification_head.num_anchors == 2 * 3
    with pytest.raises(ValueError, match="model.anchor_sizes needs 4 sizes"):
        RetinaNetDetector(num_classes=2, backbone=backbone, anchor_sizes=(32, 64))


def test_detection_confusion_matrix_by_hand():
    """Two images: a hit, a wrong class, a false alarm, a low score left out and a miss."""
    from visionlab.metrics import DetectionConfusionMatrix

    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    far = torch.tensor([[50.0, 50.0, 60.0, 60.0]])
    preds = [
        {"boxes": torch.cat([box, box + 20, far]), "scores": torch.tensor([0.9, 0.8, 0.7]),
         "labels": torch.tensor([0, 0, 1])},
        {"boxes": box, "scores": torch.tensor([0.1]), "labels": torch.tensor([1])},
    ]  # fmt: skip
    targets = [
        {"boxes": torch.cat([box, box + 20]), "labels": torch.tensor([0, 1])},
        {"boxes": box, "labels": torch.tensor([1])},
    ]
    metric = DetectionConfusionMatrix(num_classes=2)
    metric.update(preds, targets)
    expected = [
        [1, 0, 0],  # true class 0: found as 0
        [1, 0, 1],  # true class 1: taken for a 0 once, missed once (the 0.1 score is below)
        [0, 1, 0],  # background: one false class-1 detection
    ]
    assert metric.compute().tolist() == expected
