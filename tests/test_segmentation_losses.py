"""Segmentation losses: ignored pixels take no part, Dice bounds, median-frequency weights."""

from __future__ import annotations

import pytest
import torch

from visionlab.losses import SegmentationLoss, dice_loss, median_frequency_weights

IGNORE = 255


@pytest.mark.parametrize("kind", ["ce", "dice", "ce_dice"])
def test_ignored_pixels_change_neither_loss_nor_gradient(kind):
    torch.manual_seed(0)
    target = torch.randint(0, 3, (2, 8, 8))
    target[:, :3] = IGNORE
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    loss = SegmentationLoss(kind, IGNORE)(logits, target)
    loss.backward()
    assert logits.grad[:, :, :3].abs().max() == 0
    changed = logits.detach().clone()
    changed[:, :, :3] = torch.randn(2, 3, 3, 8) * 10
    assert SegmentationLoss(kind, IGNORE)(changed, target).item() == pytest.approx(loss.item())


def test_all_ignored_gives_zero_not_nan():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = SegmentationLoss("ce_dice", IGNORE)(logits, torch.full((1, 4, 4), IGNORE))
    assert torch.isfinite(loss)
    loss.backward()


def test_dice_is_near_zero_when_perfect_and_near_one_when_wrong():
    target = torch.randint(0, 3, (2, 16, 16))
    perfect = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(perfect, target).item() < 1e-3
    wrong = torch.nn.functional.one_hot((target + 1) % 3, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(wrong, target).item() > 0.99


def test_median_frequency_weights_by_hand():
    # Class 0: 60 px in images totalling 100 px (0.6); class 1: 10 of 50 (0.2);
    # class 2: 30 of 100 (0.3); class 3: never seen. Median frequency 0.3.
    weights = median_frequency_weights(
        torch.tensor([60, 10, 30, 0]), torch.tensor([100, 50, 100, 0])
    )
    torch.testing.assert_close(weights, torch.tensor([0.5, 1.5, 1.0, 0.0]))


def test_class_weights_reach_cross_entropy():
    target = torch.tensor([[[0, 1]]])
    logits = torch.zeros(1, 2, 1, 2)
    plain = SegmentationLoss("ce")(logits, target)
    weighted = SegmentationLoss("ce", class_weights=[1.0, 3.0])(logits, target)
    assert plain.item() == pytest.approx(weighted.item())  # weighted mean of equal terms
    logits[0, 1, 0, 1] = 2.0  # class 1 pixel now right: its heavier weight pulls the mean down
    assert SegmentationLoss("ce", class_weights=[1.0, 3.0])(logits, target) < SegmentationLoss(
        "ce"
    )(logits, target)
    with pytest.raises(ValueError, match="task.loss.kind"):
        SegmentationLoss("lovasz")
