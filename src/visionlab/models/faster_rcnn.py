"""Faster R-CNN and Mask R-CNN (torchvision's implementations) on any timm backbone through an
FPN."""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads
from torchvision.ops import MultiScaleRoIAlign, roi_pool
from torchvision.ops.poolers import initLevelMapper

from visionlab.models.detector_adapter import (
    ANCHOR_SIZES,
    ASPECT_RATIOS,
    FPNDetector,
    TimmFPN,
    pyramid_anchors,
)
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


class TimmDetector(FPNDetector):
    """A torchvision two-stage detector on a timm backbone + FPN (see `FPNDetector`): an RPN
    with anchors of `anchor_sizes` (one per FPN level plus the pool level) and
    `aspect_ratios`, then a box head on `roi_output_size`² features from `box_roi_pool`.
    Labels are 0..C-1 in and out: the background class is added here. The remaining keys
    (`rpn_*`) go to the torchvision class as they are. Subclasses pick the torchvision class
    (second base) and the target keys it trains on."""

    label_offset = 1  # class 0 is the background of the box classifier
    threshold_names = ("box_score_thresh", "box_nms_thresh", "box_detections_per_img")

    def detector_args(
        self,
        num_classes: int,
        fpn: TimmFPN,
        anchor_sizes: tuple[int, ...] = ANCHOR_SIZES,
        aspect_ratios: tuple[float, ...] = ASPECT_RATIOS,
        box_roi_pool: str = "roi_align",
        roi_output_size: int = 7,
        **rpn_args,
    ) -> dict:
        if box_roi_pool not in ROI_POOLS:
            raise ValueError(f"model.box_roi_pool must be one of {', '.join(ROI_POOLS)}")
        featmaps = [str(i) for i in range(len(fpn.strides) - 1)]  # the pool level gets no RoIs
        return {
            "num_classes": num_classes + 1,
            "rpn_anchor_generator": pyramid_anchors(fpn, anchor_sizes, aspect_ratios),
            "box_roi_pool": ROI_POOLS[box_roi_pool](featmaps, roi_output_size, sampling_ratio=2),
            **self.head_args(fpn, featmaps),
            **rpn_args,
        }

    def head_args(self, fpn: TimmFPN, featmaps: list[str]) -> dict:
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

    def head_args(self, fpn: TimmFPN, featmaps: list[str]) -> dict:
        return {
            "mask_roi_pool": MultiScaleRoIAlign(featmaps, 14, sampling_ratio=2),
            "mask_head": MaskRCNNHeads(fpn.out_channels, [256] * 4, 1, norm_layer=nn.BatchNorm2d),
        }
