"""RetinaNet (torchvision's implementation) on any timm backbone through an FPN: a one-stage
detector with anchors, a focal-loss classification head and a box regression head shared
across pyramid levels."""

from __future__ import annotations

from functools import partial

from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.retinanet import RetinaNetHead

from visionlab.models.detector_adapter import FPNDetector, TimmFPN, pyramid_anchors
from visionlab.models.registry import DETECTOR_EXPORT, register_model


@register_model("retinanet", tasks=("detect",), export=DETECTOR_EXPORT)
class RetinaNetDetector(FPNDetector, RetinaNet):
    """Anchors of `anchor_sizes` (one per FPN level plus the pool level) and `aspect_ratios`
    (`pyramid_anchors`), each at `anchor_octaves` scales per octave (the paper's 3: ×1,
    ×2^⅓, ×2^⅔); heads with GroupNorm (torchvision's v2 heads). Labels 0..C-1 (sigmoid
    classifiers: no background class). The other arguments are `FPNDetector`'s."""

    def detector_args(
        self,
        num_classes: int,
        fpn: TimmFPN,
        anchor_octaves: int = 3,
        **anchor_args,
    ) -> dict:
        anchors = pyramid_anchors(fpn, **anchor_args, octaves=anchor_octaves)
        head = RetinaNetHead(
            fpn.out_channels,
            anchors.num_anchors_per_location()[0],
            num_classes,
            norm_layer=partial(nn.GroupNorm, 32),
        )
        return {"num_classes": num_classes, "anchor_generator": anchors, "head": head}
