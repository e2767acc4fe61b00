"""Losses and weights for imbalanced classes, shared by classification and segmentation:
softmax focal loss, and per-class weights (`task.loss.class_weights`)."""

from __future__ import annotations

import torch

from visionlab.errors import ConfigError

WEIGHTINGS = ("balanced", "median_frequency")


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Softmax focal loss (Lin et al.) over dim 1: `-sum_c w_c y_c (1 - p_c)^gamma log p_c`,
    averaged over the samples (or pixels) that count; `gamma=0` is the cross-entropy.

    `target`: class indices `(N, ...)` (those equal to `ignore_index` count for nothing; the
    mean is weighted by `w` of each target, as in `F.cross_entropy`), or class probabilities
    `(N, C, ...)` (mixed or smoothed labels: a plain mean over the samples).
    """
    log_probs = logits.log_softmax(dim=1)
    terms = (1 - log_probs.exp()).pow(gamma) * log_probs
    shape = (1, -1) + (1,) * (logits.ndim - 2)
    weight = None if weight is None else weight.to(logits).view(shape)
    if target.is_floating_point():
        if weight is not None:
            terms = terms * weight
        return -(target * terms).sum(dim=1).mean()
    valid = target != ignore_index
    index = target.where(valid, 0).unsqueeze(1)
    picked = terms.gather(1, index).squeeze(1)
    per_target = valid.to(logits)  # each target's weight in the mean
    if weight is not None:
        per_target = per_target * weight.flatten()[index.squeeze(1)]
    return -(picked * per_target).sum() / per_target.sum().clamp_min(1e-12)


def median_frequency_weights(counts: torch.Tensor, exposure: torch.Tensor) -> torch.Tensor:
    """Eigen & Fergus' weights: freq(c) = counts(c) / exposure(c) (segmentation: pixels of c
    over pixels of the images that contain c; classification: images of c over all images);
    weight(c) = median(freq) / freq(c). Classes never seen get weight 0."""
    counts, exposure = counts.double(), exposure.double()
    seen = counts > 0
    freq = torch.zeros_like(counts)
    freq[seen] = counts[seen] / exposure[seen]
    weights = torch.zeros_like(freq)
    weights[seen] = freq[seen].median() / freq[seen]
    return weights.float()


def balanced_weights(counts: torch.Tensor) -> torch.Tensor:
    """total / (classes seen x counts(c)): every seen class carries the same total weight.
    Classes never seen get weight 0."""
    counts = counts.double()
    seen = counts > 0
    weights = torch.zeros_like(counts)
    weights[seen] = counts.sum() / (int(seen.sum()) * counts[seen])
    return weights.float()


def resolve_class_weights(
    spec: str | list | None, counts: torch.Tensor, exposure: torch.Tensor
) -> list[float] | None:
    """`task.loss.class_weights` as numbers: null, `balanced`, `median_frequency` (from the
    training labels' `counts` and `exposure`, see `median_frequency_weights`) or one weight
    per class."""
    if spec is None:
        return None
    if spec == "balanced":
        return balanced_weights(counts).tolist()
    if spec == "median_frequency":
        return median_frequency_weights(counts, exposure).tolist()
    if isinstance(spec, str):
        raise ConfigError(
            f"task.loss.class_weights={spec}: choose one of null, {', '.join(WEIGHTINGS)}, "
            "or a list with one weight per class"
        )
    if len(spec) != len(counts):
        raise ConfigError(
            f"task.loss.class_weights has {len(spec)} values for {len(counts)} classes"
        )
    return [float(w) for w in spec]
