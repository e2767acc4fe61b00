"""The from-scratch teaching ops against torchvision and torchmetrics on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.ops as tv
from torchmetrics.detection import MeanAveragePrecision

from visionlab.ops import scratch

from .conftest import random_boxes, random_detections


@pytest.mark.parametrize("seed", range(3))
def test_iou_equals_torchvision(seed):
    g = torch.Generator().manual_seed(seed)
    a, b = random_boxes(40, g), random_boxes(30, g)
    torch.testing.assert_close(scratch.box_iou(a, b), tv.box_iou(a, b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_greedy_nms_keeps_what_torchvision_keeps(seed):
    g = torch.Generator().manual_seed(seed)
    boxes, scores = random_boxes(200, g), torch.rand(200, generator=g)  # no ties
    classes = torch.randint(0, 4, (200,), generator=g)
    for threshold in (0.3, 0.5, 0.7):
        assert torch.equal(scratch.nms(boxes, scores, threshold), tv.nms(boxes, scores, threshold))
        assert torch.equal(
            scratch.batched_nms(boxes, scores, classes, threshold),
            tv.batched_nms(boxes, scores, classes, threshold),
        )


@pytest.mark.parametrize("scale", [1.0, 0.25, 1 / 16])
def test_roi_pool_equals_torchvision(scale):
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 24, 32, generator=g)
    boxes = random_boxes(12, g, size=1 / scale * 20)
    rois = torch.cat([torch.randint(0, 2, (12, 1), generator=g).float(), boxes], dim=1)
    for size in (2, (3, 5), 7):
        expected = tv.roi_pool(features, rois, size, spatial_scale=scale)
        assert torch.equal(scratch.roi_pool(features, rois, size, scale), expected)


@pytest.mark.parametrize("seed", range(3))
def test_coco_map_equals_pycocotools_and_torchmetrics(seed):
    """Greedy matching and 101-point interpolation as pycocotools does them: equal to 1e-9.
    torchmetrics samples its 101 recall thresholds in float32, which can move one of them
    just past a recall level, so against it the tolerance is 0.01 (one step of the curve)."""
    pytest.importorskip("pycocotools")
    from .conftest import pycocotools_map

    preds, targets = random_detections(15, seed)
    coco_map, coco_map50, _ = pycocotools_map(preds, targets)
    map50 = scratch.mean_average_precision(preds, targets, (0.5,), "coco")
    coco = scratch.mean_average_precision(preds, targets, tuple(np.linspace(0.5, 0.95, 10)))
    assert 0.05 < map50 < 0.95
    assert (map50, coco) == pytest.approx((coco_map50, coco_map), abs=1e-9)
    metric = MeanAveragePrecision(backend="faster_coco_eval")
    metric.update(preds, targets)
    expected = metric.compute()
    assert (map50, coco) == pytest.approx(
        (float(expected["map_50"]), float(expected["map"])), abs=0.01
    )


def test_voc_all_point_and_coco_101_point_interpolation_by_hand():
    # 4 detections: hit, miss, hit, miss, over 2 ground truths
    recall = np.array([0.5, 0.5, 1.0, 1.0])
    precision = np.array([1.0, 0.5, 2 / 3, 0.5])
    # envelope: 1, 2/3, 2/3, 1/2 -> area 0.5 * 1 + 0.5 * 2/3
    assert scratch.average_precision(recall, precision, "voc") == pytest.approx(0.5 + 1 / 3)
    # 101 points: recalls 0..0.5 (51 of them) at 1, 0.51..1 (50) at 2/3
    assert scratch.average_precision(recall, precision, "coco") == pytest.approx(
        (51 + 50 * 2 / 3) / 101
    )


def test_yolo_decoding_with_the_scratch_nms_equals_torchvision():
    from visionlab.ops import batched_nms_op
    from visionlab.ops.boxes import decode_yolo
    from visionlab.ops.limits import DetectionLimits

    output = torch.rand(2, 7, 7, 2 * 5 + 3, generator=torch.Generator().manual_seed(0))
    output[..., 2:4] *= 0.4
    limits = DetectionLimits(score_threshold=0.1)
    library = decode_yolo(output, 2, (224, 224), limits)
    mine = decode_yolo(output, 2, (224, 224), limits, batched_nms_op("scratch", "scratch"))
    for a, b in zip(library, mine, strict=True):
        assert len(a["boxes"]) > 5
        for key in a:
            assert torch.equal(a[key], b[key])


def test_faster_rcnn_with_the_scratch_roi_pool_equals_roi_pool():
    import yaml

    from visionlab.models import build_model

    from .conftest import CONF_DIR

    text = (
        (CONF_DIR / "model" / "faster_rcnn.yaml").read_text().replace("${data.image_size}", "128")
    )
    cfg = yaml.safe_load(text) | {"box_roi_pool": "roi_pool"}
    cfg["backbone"]["pretrained"] = False
    library = build_model(cfg, 3).eval()
    mine = build_model(cfg | {"box_roi_pool": "roi_pool_scratch"}, 3).eval()
    mine.load_state_dict(library.state_dict())
    for model in (library, mine):
        model.rpn._post_nms_top_n["testing"] = 50
        model.roi_heads.score_thresh = 0.0
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = library(image)[0], mine(image)[0]
    assert len(expected["boxes"]) > 0
    for key in expected:
        assert torch.equal(expected[key], got[key])


def test_detection_trains_with_the_scratch_ops(make_cfg):
    from visionlab.cli.train import train

    cfg = make_cfg("task=detect", "ops.nms=scratch", "ops.iou=scratch", "trainer.fast_dev_run=true")
    train(cfg)
    assert cfg.model.ops == {"nms": "scratch", "iou": "scratch"}


def test_multiscale_roi_pool_assigns_levels_as_torchvision():
    """With RoIAlign as its pooling, the multi-scale RoI pool equals torchvision's
    MultiScaleRoIAlign: the same scales, level assignment and RoI batch indices."""
    from collections import OrderedDict
    from functools import partial

    from torchvision.ops import MultiScaleRoIAlign, roi_align

    from visionlab.models.faster_rcnn import MultiScaleRoIPool

    class AlignedPool(MultiScaleRoIPool):
        pool = staticmethod(partial(roi_align, sampling_ratio=2))

    generator = torch.Generator().manual_seed(0)
    features = OrderedDict(
        (str(i), torch.randn(2, 4, 64 // 2**i, 64 // 2**i, generator=generator)) for i in range(3)
    )
    boxes = [random_boxes(n, generator, size=200.0).clamp(max=255) for n in (5, 7)]
    shapes = [(256, 256), (256, 256)]
    names = list(features)
    expected = MultiScaleRoIAlign(names, 7, sampling_ratio=2)(features, boxes, shapes)
    assert torch.allclose(
        AlignedPool(names, 7, sampling_ratio=2)(features, boxes, shapes), expected
    )
