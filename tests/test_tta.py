"""Test-time augmentation: averaged logits, merged boxes, and `tta=true` in evaluate.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from visionlab.cli.evaluate import evaluate
from visionlab.cli.train import train
from visionlab.tta import AveragedLogits, MergedDetections, weighted_box_fusion


def _lopsided(out_channels: int, dense: bool) -> nn.Module:
    """A random network that is not mirror-symmetric: a left-right flip changes its output."""
    torch.manual_seed(0)
    if dense:
        return nn.Conv2d(3, out_channels, (3, 5), padding=(1, 2))
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(out_channels))


def test_flip_tta_averages_the_plain_and_unflipped_logits():
    images = torch.rand(2, 3, 32, 32)
    classifier = _lopsided(5, dense=False)
    expected = (classifier(images) + classifier(images.flip(-1))) / 2
    assert not torch.allclose(classifier(images), expected)
    assert torch.allclose(AveragedLogits(classifier)(images), expected, atol=1e-6)

    segmenter = _lopsided(4, dense=True)
    expected = (segmenter(images) + segmenter(images.flip(-1)).flip(-1)) / 2
    assert not torch.allclose(segmenter(images), expected)
    assert torch.allclose(AveragedLogits(segmenter)(images), expected, atol=1e-6)


def test_scaled_views_come_back_at_the_input_size():
    segmenter = _lopsided(4, dense=True)
    out = AveragedLogits(segmenter, flip=False, scales=[0.5, 1.0, 1.5])(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 4, 64, 64)


class OneBox(nn.Module):
    """Finds one box, always at the same place of its input."""

    def __init__(self, box: list[float]) -> None:
        super().__init__()
        self.box = torch.tensor([box])

    def forward(self, images, targets=None):
        if targets is not None:
            return {"loss": torch.tensor(1.0)}
        return [
            {"boxes": self.box, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}
            for _ in images
        ]


def test_detection_views_are_mapped_back_and_merged():
    images = torch.rand(1, 3, 64, 64)
    off_centre = MergedDetections(OneBox([10.0, 10.0, 20.0, 20.0]), merge="nms").eval()(images)[0]
    assert sorted(off_centre["boxes"].tolist()) == [[10, 10, 20, 20], [44, 10, 54, 20]]
    centred = MergedDetections(OneBox([22.0, 10.0, 42.0, 20.0]), merge="wbf").eval()(images)[0]
    assert centred["boxes"].tolist() == [[22, 10, 42, 20]]
    assert centred["scores"].tolist() == pytest.approx([0.9])
    assert MergedDetections(OneBox([0, 0, 1, 1])).eval()(images, [{}]) == {
        "loss": torch.tensor(1.0)
    }


def test_weighted_box_fusion_by_hand():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    scores, labels = torch.tensor([0.9, 0.3, 0.8]), torch.tensor([0, 0, 0])
    fused, fused_scores, _ = weighted_box_fusion(boxes, scores, labels, iou=0.5, count=2)
    assert fused[0].tolist() == pytest.approx([0.25, 0.25, 10.25, 10.25])
    assert fused_scores.tolist() == pytest.approx([0.6, 0.4])  # the lone box: only 1 of 2 views


@pytest.mark.parametrize("task", [[], ["task=segment"], ["task=detect", "model=yolov1"]])
def test_evaluate_with_tta(make_cfg, task):
    cfg = make_cfg(*task, "model.backbone.pretrained=false", "trainer.max_epochs=1", "test=false")
    train(cfg)
    best = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    plain = evaluate(make_cfg(f"ckpt_path={best}", "split=val", name="eval", run="plain"))
    tta = ["tta=true", "tta_scales=[0.75,1.0]"]
    augmented = evaluate(make_cfg(f"ckpt_path={best}", "split=val", *tta, name="eval", run="tta"))
    assert plain.keys() == augmented.keys()
    if "task=detect" in task:  # the validation loss still comes from the detector alone
        assert augmented["val/loss"] == pytest.approx(plain["val/loss"])
    if not task:  # the loss of the averaged logits (an untrained UNet's are nearly uniform)
        assert augmented["val/loss"] != pytest.approx(plain["val/loss"])
