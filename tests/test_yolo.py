"""YOLOv1: grid encoding/decoding, the loss term by term, gradients into the backbone."""

from __future__ import annotations

import pytest
import torch

from visionlab.losses import YoloV1Loss
from visionlab.models.yolov1 import YOLOv1
from visionlab.ops.boxes import decode_yolo, encode_yolo_targets
from visionlab.ops.limits import DetectionLimits

S, C = 7, 3


def perfect_prediction(encoded: torch.Tensor, boxes_per_cell: int = 2) -> torch.Tensor:
    """A prediction whose first box in every object cell is the target with confidence 1."""
    n = encoded.shape[0]
    pred = torch.zeros(n, S, S, 5 * boxes_per_cell + C)
    pred[..., 0:4] = encoded[..., 1:5]
    pred[..., 4] = encoded[..., 0]
    pred[..., 5 * boxes_per_cell :] = encoded[..., 5:]
    return pred


def test_encode_decode_round_trip_is_exact():
    boxes = torch.tensor(
        [[10.0, 20.0, 110.0, 90.0], [200.0, 150.0, 300.0, 330.0], [330.0, 10.0, 440.0, 60.0]]
    )
    targets = [{"boxes": boxes, "labels": torch.tensor([0, 2, 1])}]
    encoded = encode_yolo_targets(targets, S, C, (448, 448))
    assert encoded[..., 0].sum() == 3
    decoded = decode_yolo(perfect_prediction(encoded), 2, (448, 448), DetectionLimits(0.5))[0]
    order = decoded["labels"].argsort()
    assert torch.allclose(decoded["boxes"][order], boxes[[0, 2, 1]], atol=1e-4)
    assert decoded["labels"][order].tolist() == [0, 1, 2]
    assert torch.allclose(decoded["scores"], torch.ones(3))


def test_decoding_keeps_at_most_the_limit_best_first():
    boxes = torch.tensor([[x, 0.0, x + 40, 40] for x in range(0, 400, 64)])
    targets = [{"boxes": boxes, "labels": torch.zeros(len(boxes), dtype=torch.long)}]
    grid = perfect_prediction(encode_yolo_targets(targets, S, C, (448, 448)))
    grid[..., 4] *= torch.linspace(0.1, 1.0, S)  # confidences rise with the column
    limits = DetectionLimits(score_threshold=0.3, detections_per_image=2)
    decoded = decode_yolo(grid, 2, (448, 448), limits)[0]
    assert decoded["scores"].tolist() == pytest.approx([1.0, 0.85])
    assert decoded["boxes"][:, 0].tolist() == [384.0, 320.0]


def test_centre_on_the_far_border_stays_in_the_grid():
    targets = [
        {"boxes": torch.tensor([[400.0, 400.0, 448.0, 448.0 + 48.0]]), "labels": torch.tensor([0])}
    ]
    encoded = encode_yolo_targets(targets, S, C, (448, 448))
    assert encoded[0, S - 1, S - 1, 0] == 1
    targets = [
        {"boxes": torch.tensor([[448.0 - 2, 0.0, 448.0 + 2, 10.0]]), "labels": torch.tensor([1])}
    ]
    encoded = encode_yolo_targets(targets, S, C, (448, 448))
    assert encoded[0, 0, S - 1, 0] == 1


def test_two_centres_in_one_cell_keep_the_larger_box():
    boxes = torch.tensor([[0.0, 0.0, 60.0, 60.0], [10.0, 10.0, 50.0, 50.0]])
    targets = [{"boxes": boxes, "labels": torch.tensor([0, 1])}]
    encoded = encode_yolo_targets(targets, S, C, (448, 448))
    assert encoded[..., 0].sum() == 1 and encoded[0, 0, 0, 5:].tolist() == [1.0, 0.0, 0.0]


def test_loss_is_zero_for_a_perfect_prediction_and_positive_otherwise():
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 110.0, 90.0]]), "labels": torch.tensor([2])}]
    encoded = encode_yolo_targets(targets, S, C, (448, 448))
    loss_fn = YoloV1Loss(2)
    pred = perfect_prediction(encoded)
    assert loss_fn(pred, encoded)["loss"].item() == pytest.approx(0.0, abs=1e-6)
    pred[0, 0, 0, 0] += 0.1
    assert loss_fn(pred, encoded)["loss"].item() > 0


def test_loss_matches_a_hand_computation_on_two_cells():
    """S=2, B=2, C=2; cell (0,0) holds an object, cell (1,1) does not."""
    target = torch.zeros(1, 2, 2, 7)
    target[0, 0, 0] = torch.tensor([1.0, 0.5, 0.5, 0.25, 0.25, 1.0, 0.0])
    pred = torch.zeros(1, 2, 2, 12)
    # cell (0,0): box 1 overlaps the object, box 2 lies elsewhere (IoU 0)
    pred[0, 0, 0, 0:5] = torch.tensor([0.5, 0.5, 0.36, 0.16, 0.8])
    pred[0, 0, 0, 5:10] = torch.tensor([0.0, 0.0, 0.04, 0.04, 0.3])
    pred[0, 0, 0, 10:12] = torch.tensor([0.7, 0.3])
    pred[0, 1, 1, 4] = 0.6  # a confident box in an empty cell
    pred[0, 1, 1, 9] = 0.2
    # by hand: responsible box is box 1. Its image-relative box: centre (0.25, 0.25), w 0.36,
    # h 0.16 -> IoU with (0.25, 0.25, 0.25, 0.25): inter = 0.25*0.16 = 0.04,
    # union = 0.0576 + 0.0625 - 0.04 = 0.0801 -> IoU = 0.04 / 0.0801
    iou = 0.04 / 0.0801
    coord = 5.0 * ((0.6 - 0.5) ** 2 + (0.4 - 0.5) ** 2)  # sqrt terms: sqrt(.36)=.6, sqrt(.16)=.4
    obj = (0.8 - iou) ** 2
    noobj = 0.5 * (0.3**2 + 0.6**2 + 0.2**2)
    classes = (0.7 - 1.0) ** 2 + (0.3 - 0.0) ** 2
    terms = YoloV1Loss(2)(pred, target)
    assert terms["coord"].item() == pytest.approx(coord, rel=1e-5)
    assert terms["obj"].item() == pytest.approx(obj, rel=1e-5)
    assert terms["noobj"].item() == pytest.approx(noobj, rel=1e-5)
    assert terms["classes"].item() == pytest.approx(classes, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(coord + obj + noobj + classes, rel=1e-5)


@pytest.mark.parametrize("head", ["fc", "conv"])
def test_model_output_shape_and_gradient_reaches_backbone(head):
    """The raw grid, then torchvision's contract: losses in training, detections in eval."""
    model = YOLOv1(C, {"name": "resnet18"}, grid_size=S, head=head, hidden=64)
    images = torch.randn(2, 3, 224, 224)
    out = model.grid(images)
    assert out.shape == (2, S, S, 5 * 2 + C)
    sizes = out[..., :10].unflatten(-1, (2, 5))[..., 2:4]
    assert sizes.min() >= 0  # the layer predicts √w, √h
    assert torch.allclose(out[..., 10:].sum(-1), torch.ones(2, S, S))
    targets = [
        {"boxes": torch.tensor([[10.0, 10.0, 100.0, 120.0]]), "labels": torch.tensor([1])}
    ] * 2
    losses = model(images, targets)
    assert set(losses) == {"loss_coord", "loss_obj", "loss_noobj", "loss_classes"}
    sum(losses.values()).backward()
    first = next(model.backbone.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0
    detections = model.eval()(images)
    assert len(detections) == 2 and set(detections[0]) == {"boxes", "scores", "labels"}
    assert (detections[0]["scores"] >= model.limits.score_threshold).all()
