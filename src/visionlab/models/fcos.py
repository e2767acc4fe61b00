"""FCOS (torchvision's implementation) on any timm backbone through an FPN: a one-stage,
anchor-free detector that predicts, at every feature-map position inside an object, the
distances to the object's four sides, a class score and a centre-ness."""

from __future__ import annotations

from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator

from visionlab.models.detector_adapter import TimmFPN, TorchvisionDetector, prepared_input
from visionlab.models.registry import DETECTOR_EXPORT, register_model


@register_model("fcos", tasks=("detect",), export=DETECTOR_EXPORT)
class FCOSDetector(TorchvisionDetector, FCOS):
    """One point per feature-map position of each FPN level (the max-pooled one included),
    sized by the level's stride, which scales the box regression. Labels 0..C-1 (sigmoid
    classifiers: no background class). Images arrive normalised and resized to
    `image_size`. Detections score at least `score_threshold` (class score × centre-ness),
    after per-class NMS at `nms_iou`."""

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        image_size: int = 384,
        fpn_levels: int = 3,
        fpn_channels: int = 128,
        center_sampling_radius: float = 1.5,
        score_threshold: float = 0.2,
        nms_iou: float = 0.6,
        detections_per_image: int = 100,
    ) -> None:
        fpn = TimmFPN(backbone, fpn_levels, fpn_channels)
        points = AnchorGenerator(tuple((s,) for s in fpn.strides), ((1.0,),) * len(fpn.strides))
        super().__init__(
            fpn,
            num_classes=num_classes,
            **prepared_input(image_size),
            anchor_generator=points,
            center_sampling_radius=center_sampling_radius,
            score_thresh=score_threshold,
            nms_thresh=nms_iou,
            detections_per_img=detections_per_image,
        )
