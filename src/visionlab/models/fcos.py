"""FCOS (torchvision's implementation) on any timm backbone through an FPN: a one-stage,
anchor-free detector that predicts, at every feature-map position inside an object, the
distances to the object's four sides, a class score and a centre-ness."""

from __future__ import annotations

from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator

from visionlab.models.detector_adapter import FPNDetector, TimmFPN
from visionlab.models.registry import DETECTOR_EXPORT, register_model


@register_model("fcos", tasks=("detect",), export=DETECTOR_EXPORT)
class FCOSDetector(FPNDetector, FCOS):
    """One point per feature-map position of each FPN level (the max-pooled one included),
    sized by the level's stride, which scales the box regression. Labels 0..C-1 (sigmoid
    classifiers: no background class). A detection's score is class score × centre-ness
    (`conf/model/fcos.yaml` keeps torchvision's 0.2 threshold and NMS at 0.6). The other
    arguments are `FPNDetector`'s."""

    def detector_args(
        self, num_classes: int, fpn: TimmFPN, center_sampling_radius: float = 1.5
    ) -> dict:
        strides = fpn.strides
        points = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
        return {
            "num_classes": num_classes,
            "anchor_generator": points,
            "center_sampling_radius": center_sampling_radius,
        }
