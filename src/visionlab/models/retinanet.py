"""RetinaNet (torchvision's implementation) on any timm backbone through an FPN: a one-stage
detector with anchors, a focal-loss classification head and a box regression head shared
across pyramid levels."""

from __future__ import annotations

from functools import partial

from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.retinanet import RetinaNetHead

from visionlab.models.detector_adapter import TimmFPN, TorchvisionDetector, prepared_input
from visionlab.models.registry import DETECTOR_EXPORT, register_model


@register_model("retinanet", tasks=("detect",), export=DETECTOR_EXPORT)
class RetinaNetDetector(TorchvisionDetector, RetinaNet):
    """Anchors of `anchor_sizes` (one per FPN level plus the pool level) at three octave
    scales (×1, ×2^⅓, ×2^⅔) and `aspect_ratios`; heads with GroupNorm (torchvision's v2
    heads). Labels 0..C-1 (sigmoid classifiers: no background class). Images arrive normalised
    and resized to `image_size`. Detections score at least `score_threshold`, after per-class
    NMS at `nms_iou`."""

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        image_size: int = 384,
        fpn_levels: int = 3,
        fpn_channels: int = 128,
        anchor_sizes: tuple[int, ...] = (32, 64, 128, 256),
        aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
        score_threshold: float = 0.05,
        nms_iou: float = 0.5,
        detections_per_image: int = 100,
    ) -> None:
        if len(anchor_sizes) != fpn_levels + 1:
            raise ValueError(
                f"model.anchor_sizes needs {fpn_levels + 1} sizes, one per FPN level plus the pool"
            )
        sizes = tuple(tuple(round(s * 2 ** (k / 3)) for k in range(3)) for s in anchor_sizes)
        anchors = AnchorGenerator(sizes, (tuple(aspect_ratios),) * len(sizes))
        head = RetinaNetHead(
            fpn_channels,
            anchors.num_anchors_per_location()[0],
            num_classes,
            norm_layer=partial(nn.GroupNorm, 32),
        )
        super().__init__(
            TimmFPN(backbone, fpn_levels, fpn_channels),
            num_classes=num_classes,
            **prepared_input(image_size),
            anchor_generator=anchors,
            head=head,
            score_thresh=score_threshold,
            nms_thresh=nms_iou,
            detections_per_img=detections_per_image,
        )
