"""YOLOv1: a timm backbone and the paper's detection head on an S x S grid."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.losses.yolov1 import YoloV1Loss
from visionlab.models.backbones import create_backbone
from visionlab.models.freezing import FreezableBackbone
from visionlab.models.registry import ExportSpec, register_model
from visionlab.ops import batched_nms_op
from visionlab.ops.boxes import decode_yolo, encode_yolo_targets
from visionlab.ops.limits import DetectionLimits

HEADS = ("fc", "conv")


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, inplace=True),
    )


@register_model(
    "yolov1", tasks=("detect",), export=ExportSpec(("grid",), exporter="dynamo", method="grid")
)
class YOLOv1(FreezableBackbone):
    """YOLOv1 with torchvision's detector contract: in training mode `model(images, targets)`
    returns the four terms of the paper's loss (`loss_coord`, `loss_obj`, `loss_noobj`,
    `loss_classes`, weighted by `loss`'s lambdas); in eval mode `model(images)` returns
    `[{boxes, scores, labels}]` per image in input pixels: class score = P(class | object) x
    confidence, kept and merged as `limits` say (`score_threshold`, `nms_iou`,
    `detections_per_image`: `visionlab.ops.limits.DetectionLimits`; `ops` picks torchvision's
    NMS or the lecture's, see `visionlab.ops.batched_nms_op`).

    `grid(images)`: `(N, 3, H, W)` images -> `(N, S, S, 5B + C)`. Per cell: B boxes
    `(x, y, w, h, confidence)` (x, y relative to the cell, w, h to the image) and C class
    probabilities through a softmax. As in the paper the box outputs are
    linear, not squashed: a saturated sigmoid would leave a box that is far off with no
    gradient, stuck forever once it is the responsible one. The layer predicts √w and √h, so
    w and h are never negative. Decoding clamps everything into range. The head: two 3x3 conv +
    BN + LeakyReLU(0.1) layers on the backbone's last feature map, pooled to S x S, then either
    the paper's two fully connected layers (dropout after the first) or, with
    `head="conv"`, a 1x1 convolution per cell.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        grid_size: int = 7,
        boxes_per_cell: int = 2,
        head: str = "fc",
        head_channels: int = 256,
        hidden: int = 1024,
        dropout: float = 0.5,
        loss: dict | None = None,
        ops: dict | None = None,
        **limits,
    ) -> None:
        super().__init__()
        self.s, self.b, self.c = grid_size, boxes_per_cell, num_classes
        self.limits = DetectionLimits(**limits)
        self.criterion = YoloV1Loss(boxes_per_cell, **(loss or {}))
        self.nms = batched_nms_op(**(ops or {}))
        outputs = 5 * boxes_per_cell + num_classes
        self.backbone = create_backbone(**backbone, features_only=True, out_indices=(-1,))
        channels = self.backbone.feature_info.channels()[-1]
        self.neck = nn.Sequential(
            _conv(channels, head_channels),
            _conv(head_channels, head_channels),
            nn.AdaptiveAvgPool2d(grid_size),
        )
        if head == "fc":
            self.head = nn.Sequential(
                nn.Flatten(),
                nn.Linear(head_channels * grid_size * grid_size, hidden),
                nn.LeakyReLU(0.1, inplace=True),
                nn.Dropout(dropout),
                nn.Linear(hidden, grid_size * grid_size * outputs),
            )
        elif head == "conv":
            self.head = nn.Conv2d(head_channels, outputs, 1)
        else:
            raise ValueError(f"model.head must be one of {HEADS}, got {head!r}")

    def grid(self, images: torch.Tensor) -> torch.Tensor:
        features = self.neck(self.backbone(images)[-1])
        out = self.head(features)
        out = out.permute(0, 2, 3, 1) if out.dim() == 4 else out
        out = out.reshape(-1, self.s, self.s, 5 * self.b + self.c)
        boxes = out[..., : 5 * self.b].unflatten(-1, (self.b, 5))
        sizes = boxes[..., 2:4].square()  # the layer predicts √w, √h, as the loss compares them
        boxes = torch.cat([boxes[..., :2], sizes, boxes[..., 4:]], dim=-1).flatten(-2)
        probs = out[..., 5 * self.b :].softmax(dim=-1)
        return torch.cat([boxes, probs], dim=-1)

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None):
        grid = self.grid(images)
        size = tuple(images.shape[-2:])
        if self.training:
            if targets is None:
                raise ValueError("training mode needs targets")
            encoded = encode_yolo_targets(targets, self.s, self.c, size)
            return {f"loss_{k}": v for k, v in self.criterion(grid, encoded).items() if k != "loss"}
        return decode_yolo(grid, self.b, size, self.limits, self.nms)
