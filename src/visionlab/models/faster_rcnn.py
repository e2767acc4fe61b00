"""Faster R-CNN and Mask R-CNN (torchvision's implementations) on any timm backbone through an
FPN."""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads
from torchvision.ops import MultiScaleRoIAlign, roi_pool
from torchvision.ops.poolers import initLevelMapper

from visionlab.models.detector_adapter import TimmFPN, TorchvisionDetector, prepared_input
from visionlab.models.registry import DETECTOR_EXPORT, ExportSpec, register_model
from visionlab.ops import scratch


class MultiScaleRoIPool(MultiScaleRoIAlign):
    """Fast R-CNN's RoI max pooling (quantised bins) on the FPN level each box maps to;
    the same level assignment as `MultiScaleRoIAlign`, which samples bins bilinearly."""

    pool = staticmethod(roi_pool)

    def forward(self, x, boxes, image_shapes):
        features = [x[name] for name in self.featmap_names]
        height = max(shape[0] for shape in image_shapes)
        # each level's scale is the power of two nearest its size ratio to the input, and a
        # box goes to the level its size maps to (FPN paper, eq. 1), as torchvision assigns them
        scales = [2.0 ** round(math.log2(f.shape[-2] / height)) for f in features]
        levels = initLevelMapper(
            int(-math.log2(scales[0])),
            int(-math.log2(scales[-1])),
            self.canonical_scale,
            self.canonical_level,
        )(boxes)
        rois = torch.cat(
            [torch.cat([b.new_full((len(b), 1), i), b], 1) for i, b in enumerate(boxes)]
        )
        result = features[0].new_zeros((len(rois), features[0].shape[1], *self.output_size))
        for level, (feature, scale) in enumerate(zip(features, scales, strict=True)):
            index = torch.where(levels == level)[0]
            pooled = self.pool(feature, rois[index], self.output_size, spatial_scale=scale)
            result[index] = pooled.to(result.dtype)
        return result


class ScratchMultiScaleRoIPool(MultiScaleRoIPool):
    """The same, with the from-scratch RoI max pooling of `visionlab.ops.scratch`."""

    pool = staticmethod(scratch.roi_pool)


ROI_POOLS = {
    "roi_align": MultiScaleRoIAlign,
    "roi_pool": MultiScaleRoIPool,
    "roi_pool_scratch": ScratchMultiScaleRoIPool,
}


class TimmDetector(TorchvisionDetector):
    """A torchvision two-stage detector with visionlab's contract: labels 0..C-1 in and out (the
    background class is added here), images already normalised and resized to `image_size`.

    Training mode: `model(images, targets)` -> dict of losses. Eval mode: `model(images)` ->
    `[{boxes, scores, labels[, masks]}]` per image, in input pixel coordinates, scoring at
    least `score_threshold`, after per-class NMS at `nms_iou`. Subclasses pick
    the torchvision class (second base) and the target keys it trains on.
    """

    label_offset = 1  # class 0 is the background of the box classifier

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        image_size: int = 384,
        fpn_levels: int = 3,
        fpn_channels: int = 128,
        anchor_sizes: tuple[int, ...] = (32, 64, 128, 256),
        aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
        box_roi_pool: str = "roi_align",
        roi_output_size: int = 7,
        score_threshold: float = 0.05,
        nms_iou: float = 0.5,
        **detector_args,
    ) -> None:
        if len(anchor_sizes) != fpn_levels + 1:
            raise ValueError(
                f"model.anchor_sizes needs {fpn_levels + 1} sizes, one per FPN level plus the pool"
            )
        if box_roi_pool not in ROI_POOLS:
            raise ValueError(f"model.box_roi_pool must be one of {', '.join(ROI_POOLS)}")
        featmaps = [str(i) for i in range(fpn_levels)]
        self.fpn_channels = fpn_channels
        super().__init__(
            TimmFPN(backbone, fpn_levels, fpn_channels),
            num_classes=num_classes + 1,
            rpn_anchor_generator=AnchorGenerator(
                tuple((s,) for s in anchor_sizes), (tuple(aspect_ratios),) * len(anchor_sizes)
            ),
            box_roi_pool=ROI_POOLS[box_roi_pool](featmaps, roi_output_size, sampling_ratio=2),
            **prepared_input(image_size),
            box_score_thresh=score_threshold,
            box_nms_thresh=nms_iou,
            **self.head_args(featmaps),
            **detector_args,
        )

    def head_args(self, featmaps: list[str]) -> dict:
        """Extra constructor arguments of the torchvision class."""
        return {}


@register_model("faster_rcnn", tasks=("detect",), export=DETECTOR_EXPORT)
class FasterRCNNDetector(TimmDetector, FasterRCNN):
    """torchvision's FasterRCNN on a timm backbone + FPN (see TimmDetector)."""


@register_model(
    "mask_rcnn",
    tasks=("instance",),
    export=ExportSpec(("boxes", "scores", "labels", "masks"), one_image=True),
)
class MaskRCNNDetector(TimmDetector, MaskRCNN):
    """torchvision's MaskRCNN on a timm backbone + FPN: Faster R-CNN plus a mask branch on
    14×14 RoIAlign features (four 3×3 convolutions with BatchNorm, as torchvision's v2 heads:
    without it, the first mask logits on timm features are large enough to diverge). Targets
    need `masks` (N, H, W); predictions hold `masks` (N, 1, H, W) probabilities at the input
    size."""

    target_keys = ("boxes", "masks")

    def head_args(self, featmaps: list[str]) -> dict:
        return {
            "mask_roi_pool": MultiScaleRoIAlign(featmaps, 14, sampling_ratio=2),
            "mask_head": MaskRCNNHeads(self.fpn_channels, [256] * 4, 1, norm_layer=nn.BatchNorm2d),
        }
