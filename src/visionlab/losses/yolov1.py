"""The YOLOv1 sum-squared loss, term by term as the paper writes it."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.ops.boxes import cell_to_image_xyxy, elementwise_iou


class YoloV1Loss(nn.Module):
    """λ_coord Σ 1ᵒᵇʲᵢⱼ [(x−x̂)² + (y−ŷ)² + (√w−√ŵ)² + (√h−√ĥ)²]
    + λ_obj Σ 1ᵒᵇʲᵢⱼ (cᵢⱼ − ĉᵢⱼ)² + λ_noobj Σ (1 − 1ᵒᵇʲᵢⱼ) ĉᵢⱼ²
    + λ_classes Σᵢ 1ᵒᵇʲᵢ Σ_c (pᵢ(c) − p̂ᵢ(c))²

    Box j of cell i is responsible (1ᵒᵇʲᵢⱼ) when the cell holds an object and j has the highest
    IoU with it among the cell's B boxes; its confidence target cᵢⱼ is that IoU. Every other box
    counts as "no object". Sums run over the batch and are divided by the batch size.

    `pred`: `(N, S, S, 5B + C)`, `target`: `(N, S, S, 5 + C)` (see `visionlab.ops.boxes`).
    Returns the total and each term.
    """

    def __init__(
        self,
        boxes_per_cell: int = 2,
        lambda_coord: float = 5.0,
        lambda_noobj: float = 0.5,
        lambda_obj: float = 1.0,
        lambda_classes: float = 1.0,
    ) -> None:
        super().__init__()
        self.b = boxes_per_cell
        self.lambda_coord, self.lambda_noobj = lambda_coord, lambda_noobj
        self.lambda_obj, self.lambda_classes = lambda_obj, lambda_classes

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        n, s = pred.shape[:2]
        boxes = pred[..., : 5 * self.b].reshape(n, s, s, self.b, 5)
        has_object = target[..., 0]  # (N, S, S)
        true_box = target[..., 1:5].unsqueeze(3)  # (N, S, S, 1, 4)

        with torch.no_grad():
            iou = elementwise_iou(
                cell_to_image_xyxy(boxes[..., :4]),
                cell_to_image_xyxy(true_box).expand_as(boxes[..., :4]),
            )  # (N, S, S, B)
            best = iou.argmax(dim=-1, keepdim=True)
            responsible = torch.zeros_like(iou).scatter_(-1, best, 1.0) * has_object.unsqueeze(-1)

        xy_error = (boxes[..., :2] - true_box[..., :2]).pow(2).sum(-1)
        wh_error = (
            (boxes[..., 2:4].clamp(min=1e-9).sqrt() - true_box[..., 2:4].sqrt()).pow(2).sum(-1)
        )
        confidence = boxes[..., 4]
        terms = {
            "coord": self.lambda_coord * (responsible * (xy_error + wh_error)).sum(),
            "obj": self.lambda_obj * (responsible * (confidence - iou).pow(2)).sum(),
            "noobj": self.lambda_noobj * ((1 - responsible) * confidence.pow(2)).sum(),
            "classes": self.lambda_classes
            * (has_object * (pred[..., 5 * self.b :] - target[..., 5:]).pow(2).sum(-1)).sum(),
        }
        terms = {k: v / n for k, v in terms.items()}
        return {"loss": sum(terms.values()), **terms}
