import torch

from visionlab.models.sliding_window import SlidingWindowDetector


def _detector(**kwargs) -> SlidingWindowDetector:
    return SlidingWindowDetector(2, {"name": "resnet18"}, window=32, scales=(1.0, 0.5), **kwargs)


def test_windows_tile_the_image_at_every_scale():
    detector = _detector()
    at_full = detector.windows((2, 3), 1.0, (64, 96))
    assert at_full.tolist()[:2] == [[0, 0, 32, 32], [32, 0, 64, 32]]
    assert at_full.tolist()[-1] == [64, 32, 96, 64]
    # at half scale a feature cell covers 64 input pixels and the window grows to 64
    assert detector.windows((1, 2), 0.5, (64, 96)).tolist() == [[0, 0, 64, 64], [64, 0, 96, 64]]


def test_one_window_per_feature_position_and_scale():
    detector = _detector().eval()
    logits, windows = detector.window_logits(torch.randn(1, 3, 64, 96))
    assert logits.shape == (1, 2 * 3 + 1 * 2, 3) and windows.shape == (8, 4)


def test_windows_are_labelled_by_their_best_overlap():
    detector = _detector()
    windows = torch.tensor([[0.0, 0, 32, 32], [0, 0, 32, 14], [64, 32, 96, 64]])
    labels = detector.window_labels(windows, torch.tensor([[0.0, 0, 32, 32]]), torch.tensor([1]))
    assert labels.tolist() == [2, -1, 0]  # class 1 (+1 for background), IoU 0.44, no overlap
    assert detector.window_labels(windows, torch.zeros(0, 4), torch.zeros(0)).tolist() == [0] * 3


def test_confident_windows_become_boxes_and_overlaps_are_merged():
    detector = _detector(score_threshold=0.5, nms_iou=0.5)
    windows = torch.tensor([[0.0, 0, 32, 32], [2, 0, 34, 32], [64, 32, 96, 64]])
    logits = torch.tensor([[0.0, 9, 0], [0, 8, 0], [9, 0, 0]])  # background, class 0, class 0
    out = detector.detect(logits, windows)
    assert out["boxes"].tolist() == [[0, 0, 32, 32]] and out["labels"].tolist() == [0]
    assert out["scores"].item() > 0.99


def test_training_returns_the_window_classification_loss():
    detector = _detector().train()
    targets = [{"boxes": torch.tensor([[0.0, 0, 32, 32]]), "labels": torch.tensor([1])}]
    losses = detector(torch.randn(1, 3, 64, 96), targets)
    assert set(losses) == {"loss_classifier"} and losses["loss_classifier"].item() > 0
    losses["loss_classifier"].backward()
    assert detector.classifier[-1].weight.grad.abs().sum() > 0
