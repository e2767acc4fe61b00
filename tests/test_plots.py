"""Figures stay readable with many classes: no matplotlib warning, no overlapping tick labels."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from visionlab.utils.plots import (
    confusion_matrix_figure,
    label_statistics_figure,
    per_class_figure,
    plt,
)

CLASSES = [f"class_{i:02d}_{name}" for i, name in enumerate(["traffic light", "person"] * 40)]


def overlapping_tick_labels(fig: plt.Figure) -> list[tuple[str, str]]:
    """Pairs of visible tick labels on one axis whose rendered extents intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in ticks if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in shown]
            for (a, box_a), (b, box_b) in itertools.combinations(zip(shown, boxes, strict=True), 2):
                if box_a.overlaps(box_b):
                    pairs.append((a.get_text(), b.get_text()))
    return pairs


def _label_statistics() -> plt.Figure:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(CLASSES), 600)
    xy = rng.uniform(0, 400, (600, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 200, (600, 2))], axis=1)
    return label_statistics_figure(boxes, labels, rng.integers(0, 20, 100), CLASSES)


def _confusion() -> plt.Figure:
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 50, (len(CLASSES), len(CLASSES))) + np.eye(len(CLASSES)) * 200
    return confusion_matrix_figure(matrix, CLASSES, "val")


def _per_class() -> plt.Figure:
    rng = np.random.default_rng(0)
    return per_class_figure(
        list(zip(CLASSES, rng.uniform(0, 1, len(CLASSES)), strict=True)), "AP", "val"
    )


@pytest.mark.parametrize("make", [_label_statistics, _confusion, _per_class])
def test_80_classes_render_without_warnings_or_overlapping_labels(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make()
        assert overlapping_tick_labels(fig) == []
    plt.close(fig)


def test_the_check_finds_overlapping_labels():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    assert overlapping_tick_labels(fig)
    plt.close(fig)
