"""Tools for few or imbalanced images: focal loss, class weights (the same in classification
and segmentation), the class-balanced sampler, MixUp/CutMix batches and random erasing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionlab.cli.common import build_datamodule, build_task
from visionlab.cli.train import train
from visionlab.data.balance import balanced_sampler
from visionlab.data.transforms import build_classification_transforms
from visionlab.errors import ConfigError
from visionlab.losses import (
    balanced_weights,
    focal_loss,
    median_frequency_weights,
    resolve_class_weights,
)
from visionlab.utils.config import fill_preprocessing


def test_focal_loss_with_gamma_0_is_the_cross_entropy():
    torch.manual_seed(0)
    logits, target, weight = torch.randn(6, 4), torch.randint(0, 4, (6,)), torch.rand(4)
    assert focal_loss(logits, target, 0.0) == pytest.approx(float(F.cross_entropy(logits, target)))
    expected = F.cross_entropy(logits, target, weight=weight)
    assert focal_loss(logits, target, 0.0, weight) == pytest.approx(float(expected), abs=1e-6)
    soft = torch.rand(6, 4).softmax(dim=1)
    expected = F.cross_entropy(logits, soft, weight=weight)
    assert focal_loss(logits, soft, 0.0, weight) == pytest.approx(float(expected), abs=1e-6)
    pixels, masks = torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5))
    masks[0, 0] = 255
    expected = F.cross_entropy(pixels, masks, weight=weight[:3], ignore_index=255)
    assert focal_loss(pixels, masks, 0.0, weight[:3], 255) == pytest.approx(float(expected))


def test_focal_loss_down_weights_easy_examples():
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.2, 0.0]])
    target = torch.tensor([0])
    ratio = [float(focal_loss(x, target, 2.0) / F.cross_entropy(x, target)) for x in (easy, hard)]
    assert ratio[0] < 0.001 < 0.2 < ratio[1] < 1.0


def test_class_weight_rules_by_hand():
    counts = torch.tensor([60.0, 30.0, 10.0, 0.0])
    assert balanced_weights(counts).tolist() == pytest.approx([100 / 180, 100 / 90, 100 / 30, 0])
    exposure = torch.full_like(counts, 100.0)
    assert median_frequency_weights(counts, exposure).tolist() == pytest.approx([0.5, 1, 3, 0])
    assert resolve_class_weights([1, 2, 3, 4], counts, exposure) == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ConfigError, match="has 2 values for 4 classes"):
        resolve_class_weights([1, 2], counts, exposure)
    with pytest.raises(ConfigError, match="class_weights=inverse: choose one of null, balanced"):
        resolve_class_weights("inverse", counts, exposure)


@pytest.mark.parametrize("task", ["classify", "segment"])
@pytest.mark.parametrize("rule", ["balanced", "median_frequency"])
def test_class_weights_mean_the_same_in_classification_and_segmentation(make_cfg, task, rule):
    """The task's loss holds the rule applied to its data's counts: images per class for
    classification, pixels per class for segmentation."""
    cfg = make_cfg(f"task={task}", f"task.loss.class_weights={rule}")
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, task)
    counts, exposure = datamodule.class_counts()
    expected = {"balanced": balanced_weights(counts)}.get(rule)
    if expected is None:
        expected = median_frequency_weights(counts, exposure)
    module = build_task(cfg, datamodule)
    weights = module.class_weights if task == "classify" else module.criterion.class_weights
    assert torch.allclose(weights, expected)
    if task == "classify":
        assert counts.sum() == len(datamodule.index.split("train"))


def test_the_balanced_sampler_draws_every_class_equally_often():
    labels = [0] * 900 + [1] * 90 + [2] * 10
    sampler = balanced_sampler(labels, torch.Generator().manual_seed(0))
    drawn = Counter(labels[i] for _ in range(5) for i in sampler)
    assert sum(drawn.values()) == 5 * len(labels)
    assert all(abs(n / 5000 - 1 / 3) < 0.02 for n in drawn.values()), drawn


def test_balanced_training_batches_from_the_data_module(make_cfg):
    cfg = make_cfg("data.sampler=balanced", "++data.options.counts={train:60,val:12}")
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, "classify")
    datamodule.setup()
    loader = datamodule.train_dataloader()
    assert isinstance(loader.sampler, torch.utils.data.WeightedRandomSampler)
    assert len(loader.sampler) == 60


def test_mixed_training_batches_and_plain_validation(make_cfg):
    cfg = make_cfg("data.mix=mixup_cutmix", "trainer.max_epochs=1", "test=false")
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, "classify")
    datamodule.setup()
    images, labels = next(iter(datamodule.train_dataloader()))
    assert labels.shape == (len(images), datamodule.num_classes)
    assert torch.allclose(labels.sum(dim=1), torch.ones(len(images)))
    assert (labels.max(dim=1).values < 1).any(), "no image was mixed"
    assert next(iter(datamodule.val_dataloader()))[1].dtype == torch.int64
    assert 0.0 <= train(cfg) <= 1.0


def test_random_erasing_changes_training_images_only():
    image = np.full((64, 64, 3), 128, np.uint8)
    args = dict(image_size=64, mean=(0.5,) * 3, std=(0.5,) * 3, augment="none")
    erased = build_classification_transforms(True, **args, random_erasing=1.0)(image=image)
    plain = build_classification_transforms(True, **args)(image=image)
    evaluation = build_classification_transforms(False, **args, random_erasing=1.0)(image=image)
    assert not torch.equal(erased["image"], plain["image"])
    assert torch.equal(evaluation["image"], plain["image"])


def test_focal_loss_and_weights_train(make_cfg):
    cfg = make_cfg(
        "task.loss.kind=focal", "task.loss.class_weights=balanced", "data.mix=cutmix",
        "trainer.max_epochs=1", "test=false",
    )  # fmt: skip
    assert 0.0 <= train(cfg) <= 1.0
