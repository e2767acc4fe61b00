"""Test-time augmentation (`tta=true` in evaluate.py and predict.py): a trained network wrapped so
that it also sees each image flipped and rescaled, and its outputs merged."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_iou

from visionlab.errors import ConfigError

MERGES = ("nms", "wbf")
BOX_KEYS = ("boxes", "scores", "labels")
SIZE_MULTIPLE = 32  # rescaled inputs keep a side every backbone and decoder accepts


def views(images: torch.Tensor, flip: bool, scales: list[float]) -> list[tuple[torch.Tensor, bool]]:
    """`(view, flipped)` of a batch: every scale (sides rounded to a multiple of 32), and each
    also mirrored left-right when `flip`."""
    height, width = images.shape[-2:]
    out = []
    for scale in scales:
        size = [max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)
                for side in (height, width)]  # fmt: skip
        view = images if scale == 1.0 else F.interpolate(images, size=size, mode="bilinear")
        out += [(view, False), *([(view.flip(-1), True)] if flip else [])]
    return out


class AveragedLogits(nn.Module):
    """Classification and segmentation: the mean of the logits over the views, segmentation
    maps mirrored back and resized to the input first."""

    def __init__(self, model: nn.Module, flip: bool = True, scales: list[float] = (1.0,)) -> None:
        super().__init__()
        self.model, self.flip, self.scales = model, flip, list(scales)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        total = None
        augmented = views(images, self.flip, self.scales)
        for view, flipped in augmented:
            logits = self.model(view)
            if logits.dim() == 4:
                logits = logits.flip(-1) if flipped else logits
                logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear")
            total = logits if total is None else total + logits
        return total / len(augmented)


def weighted_box_fusion(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float, count: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solovyev et al.'s weighted box fusion: per class, best score first, each box joins the
    first fused box it overlaps by more than `iou` (or starts one); a fused box is the
    score-weighted mean of its members, scored by their mean score x min(members, count) /
    count (`count`: the views, so a box only some views found loses confidence)."""
    fused: list[tuple[torch.Tensor, torch.Tensor, int]] = []
    for label in labels.unique().tolist():
        members: list[list[int]] = []
        centres: list[torch.Tensor] = []
        chosen = (labels == label).nonzero().flatten()
        for i in chosen[scores[chosen].argsort(descending=True)].tolist():
            if centres:
                overlaps = box_iou(boxes[i : i + 1], torch.stack(centres))[0]
                best = int(overlaps.argmax())
                if overlaps[best] > iou:
                    members[best].append(i)
                    weights = scores[members[best]]
                    centres[best] = (boxes[members[best]] * weights[:, None]).sum(0) / weights.sum()
                    continue
            members.append([i])
            centres.append(boxes[i])
        for group, centre in zip(members, centres, strict=True):
            score = scores[group].mean() * min(len(group), count) / count
            fused.append((centre, score, label))
    if not fused:
        return boxes[:0], scores[:0], labels[:0]
    out_boxes, out_scores, out_labels = zip(*fused, strict=True)
    return torch.stack(out_boxes), torch.stack(out_scores), labels.new_tensor(out_labels)


class MergedDetections(nn.Module):
    """Detection: the detector's boxes on every view, mapped back to the input's pixels
    (mirrored, rescaled), merged per class by NMS or weighted box fusion at `iou`, best
    `detections_per_image` kept. Training and loss calls (with targets) go to the detector."""

    def __init__(
        self,
        model: nn.Module,
        flip: bool = True,
        scales: list[float] = (1.0,),
        merge: str = "wbf",
        iou: float = 0.55,
        detections_per_image: int = 100,
    ) -> None:
        super().__init__()
        if merge not in MERGES:
            raise ConfigError(f"tta_merge={merge}: choose one of {', '.join(MERGES)}")
        self.model, self.flip, self.scales = model, flip, list(scales)
        self.merge, self.iou, self.keep = merge, iou, detections_per_image

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None):
        if self.training or targets is not None:
            return self.model(images, targets)
        width = images.shape[-1]
        augmented = views(images, self.flip, self.scales)
        per_image: list[list[dict]] = [[] for _ in images]
        for view, flipped in augmented:
            factor = width / view.shape[-1]
            for found, detections in zip(per_image, self.model(view), strict=True):
                boxes = detections["boxes"] * factor
                if flipped:
                    boxes = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0],
                                         boxes[:, 3]], dim=1)  # fmt: skip
                found.append({**detections, "boxes": boxes})
        return [self._merge(found, len(augmented)) for found in per_image]

    def _merge(self, found: list[dict], count: int) -> dict:
        boxes, scores, labels = (
            torch.cat([d[k] for d in found]) for k in ("boxes", "scores", "labels")
        )
        if self.merge == "nms":
            kept = batched_nms(boxes, scores, labels, self.iou)
            boxes, scores, labels = boxes[kept], scores[kept], labels[kept]
        else:
            boxes, scores, labels = weighted_box_fusion(boxes, scores, labels, self.iou, count)
        best = scores.argsort(descending=True)[: self.keep]
        return {"boxes": boxes[best], "scores": scores[best], "labels": labels[best]}


def with_tta(task, flip: bool, scales: list[float], merge: str = "wbf") -> None:
    """Wrap the task's network in place: its evaluation and prediction then use the views."""
    if task.name == "detect":
        keep = task.model.limits.detections_per_image
        task.model = MergedDetections(task.model, flip, scales, merge, detections_per_image=keep)
    elif task.name in ("classify", "segment"):
        task.model = AveragedLogits(task.model, flip, scales)
    else:
        raise ConfigError(f"tta=true: not available for task={task.name}")
    task.model.train(task.training)
