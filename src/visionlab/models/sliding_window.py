"""The sliding-window detector the lecture starts from (OverFeat): a classifier evaluated over
square windows at several positions and scales, overlapping detections merged by NMS."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler
from torchvision.ops import box_iou, clip_boxes_to_image

from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.models.registry import DETECTOR_EXPORT, register_model
from visionlab.ops import batched_nms_op
from visionlab.ops.limits import DetectionLimits


@register_model("sliding_window", tasks=("detect",), export=DETECTOR_EXPORT)
class SlidingWindowDetector(FreezableBackbone):
    """Every position of the backbone's last feature map is one window: a `window`-pixel
    square centred on that position. The classifier runs convolutionally (OverFeat's shared
    computation, one pass per scale); running it on the image resized by `scale` makes the
    window `window / scale` pixels wide in the input. Boxes are the windows themselves: no
    regression, so a box is only as tight as the window grid.

    Same contract as the torchvision detectors: in training mode `model(images, targets)`
    returns `{"loss_classifier"}`; in eval mode `model(images)` returns
    `[{boxes, scores, labels}]` per image, labels in 0..C-1. Training labels a window with the
    class of the box it overlaps most at IoU ≥ `positive_iou`, as background below
    `negative_iou`, and skips the rest; `windows_per_image` of them (at most
    `positive_fraction` positive) train a (C + 1)-way cross-entropy. `ops` picks torchvision's
    NMS or the lecture's (`visionlab.ops.batched_nms_op`).
    """

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        window: int = 128,
        scales: tuple[float, ...] = (1.5, 1.0, 0.67, 0.5),
        head_channels: int = 256,
        positive_iou: float = 0.5,
        negative_iou: float = 0.3,
        windows_per_image: int = 128,
        positive_fraction: float = 0.25,
        ops: dict | None = None,
        **limits,
    ) -> None:
        super().__init__()
        self.backbone = create_backbone(**backbone, features_only=True, out_indices=(-1,))
        self.stride = self.backbone.feature_info.reduction()[-1]
        self.window, self.scales = window, tuple(scales)
        self.positive_iou, self.negative_iou = positive_iou, negative_iou
        # from a private torchvision module: the sampler its RPN and box head draw training
        # samples with, so windows are sampled as those proposals are
        self.sampler = BalancedPositiveNegativeSampler(windows_per_image, positive_fraction)
        self.limits = DetectionLimits(**limits)
        self.nms = batched_nms_op(**(ops or {}))
        self.classifier = nn.Sequential(
            nn.Conv2d(self.backbone.feature_info.channels()[-1], head_channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, num_classes + 1, 1),  # 0 = background
        )

    def windows(
        self, grid: tuple[int, int], scale: float, image_size: tuple[int, int], device=None
    ) -> torch.Tensor:
        """`(rows·cols, 4)` xyxy windows, in input pixels, of a `grid` feature map computed on
        the input resized by `scale`; row-major, like the flattened map."""
        rows, cols = grid
        ys = (torch.arange(rows, device=device) + 0.5) * self.stride / scale
        xs = (torch.arange(cols, device=device) + 0.5) * self.stride / scale
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        half = self.window / scale / 2
        centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 4)
        return clip_boxes_to_image(
            centres + centres.new_tensor([-half, -half, half, half]), image_size
        )

    def window_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits `(N, W, C + 1)` and windows `(W, 4)` over every scale."""
        image_size = tuple(images.shape[-2:])
        logits, windows = [], []
        for scale in self.scales:
            scaled = (
                images
                if scale == 1
                else F.interpolate(images, scale_factor=scale, mode="bilinear", align_corners=False)
            )
            scores = self.classifier(self.backbone(scaled)[-1])
            logits.append(scores.flatten(2).transpose(1, 2))
            windows.append(self.windows(scores.shape[-2:], scale, image_size, images.device))
        return torch.cat(logits, dim=1), torch.cat(windows)

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None):
        logits, windows = self.window_logits(images)
        if self.training:
            if targets is None:
                raise ValueError("training mode needs targets")
            return {"loss_classifier": self.loss(logits, windows, targets)}
        return [self.detect(image_logits, windows) for image_logits in logits]

    def loss(
        self, logits: torch.Tensor, windows: torch.Tensor, targets: list[dict]
    ) -> torch.Tensor:
        labels = [self.window_labels(windows, t["boxes"], t["labels"]) for t in targets]
        positives, negatives = self.sampler(labels)
        chosen = (torch.stack(positives) | torch.stack(negatives)).bool()  # the sampler gives uint8
        return F.cross_entropy(logits[chosen], torch.stack(labels)[chosen])

    def window_labels(self, windows: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor):
        """1..C for windows matching a box, 0 for background, -1 for the ones in between."""
        if not len(boxes):
            return torch.zeros(len(windows), dtype=torch.long, device=windows.device)
        best_iou, best = box_iou(windows, boxes).max(dim=1)
        assigned = labels[best] + 1
        assigned[best_iou < self.positive_iou] = -1
        assigned[best_iou < self.negative_iou] = 0
        return assigned

    def detect(self, logits: torch.Tensor, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The windows as boxes scored by their class probabilities, kept and merged as
        `limits` say."""
        return self.limits.select(windows, logits.softmax(dim=-1)[:, 1:], self.nms)
