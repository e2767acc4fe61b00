"""Albumentations pipelines built from config, one per split.

Every pipeline ends with resize/crop (or pad) to the model's input size, normalisation with the
backbone's mean/std and conversion to a CHW float tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
from albumentations.pytorch import ToTensorV2
from hydra.utils import instantiate

from visionlab.errors import ConfigError

PRESETS = ("none", "light", "strong")
_INTERPOLATION = {
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "nearest": cv2.INTER_NEAREST,
}


def _interpolation(name: str) -> int:
    return _INTERPOLATION.get(name, cv2.INTER_LINEAR)


def eval_resize(image_size: int, crop_pct: float, interpolation: str) -> list[A.BasicTransform]:
    """Resize the shorter side to `image_size / crop_pct`, then centre-crop `image_size`."""
    interp = _interpolation(interpolation)
    resize_to = max(image_size, int(round(image_size / crop_pct)))
    return [
        A.SmallestMaxSize(max_size=resize_to, interpolation=interp),
        A.CenterCrop(height=image_size, width=image_size),
    ]


def _augmentations(preset: str, image_size: int, interpolation: str) -> list[A.BasicTransform]:
    interp = _interpolation(interpolation)
    crop = A.RandomResizedCrop(
        size=(image_size, image_size), scale=(0.35, 1.0), interpolation=interp
    )
    if preset == "light":
        return [crop, A.HorizontalFlip()]
    return [
        crop,
        A.HorizontalFlip(),
        A.Affine(rotate=(-15, 15), shear=(-8, 8), p=0.5),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8),
        A.ToGray(p=0.05),
        A.CoarseDropout(
            num_holes_range=(1, 4),
            hole_height_range=(0.05, 0.2),
            hole_width_range=(0.05, 0.2),
            p=0.3,
        ),
    ]


def build_classification_transforms(
    train: bool,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    crop_pct: float = 0.875,
    interpolation: str = "bilinear",
    augment: str = "light",
    custom: Sequence[dict] | None = None,
    random_erasing: float = 0.0,
) -> A.Compose:
    """The pipeline for one split.

    `augment` picks a preset; `custom`, a list of albumentations `_target_` configs, replaces
    the preset's augmentations for the train split. With probability `random_erasing`, a
    training image then has a random rectangle (2-33% of it) replaced by noise.
    """
    if augment not in PRESETS:
        raise ConfigError(f"data.augment={augment!r} is not one of {', '.join(PRESETS)}")
    if not train or (augment == "none" and not custom):
        steps = eval_resize(image_size, crop_pct, interpolation)
    elif custom:
        steps = [instantiate(t) for t in custom]
        steps.append(A.Resize(image_size, image_size, interpolation=_interpolation(interpolation)))
    else:
        steps = _augmentations(augment, image_size, interpolation)
    if train and random_erasing > 0:
        steps.append(A.Erasing(fill="random", p=random_erasing))
    return A.Compose([*steps, A.Normalize(mean=mean, std=std), ToTensorV2()])


def _detection_augmentations(preset: str) -> list[A.BasicTransform]:
    if preset == "light":
        return [A.HorizontalFlip(), A.ColorJitter(0.2, 0.2, 0.2, 0.0, p=0.5)]
    # the YOLO paper's recipe: scale and translate by up to 20%, exposure and saturation up to 1.5x
    return [
        A.Affine(scale=(0.8, 1.2), translate_percent=(-0.2, 0.2), border_mode=cv2.BORDER_CONSTANT),
        A.ColorJitter(brightness=(2 / 3, 1.5), contrast=0.0, saturation=(2 / 3, 1.5), hue=0.0),
        A.HorizontalFlip(),
    ]


def build_detection_transforms(
    train: bool,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    augment: str = "strong",
    interpolation: str = "bilinear",
    custom: Sequence[dict] | None = None,
    masks: bool = False,
    **_: object,
) -> A.Compose:
    """Box-aware pipeline: augmentations (train only), then a resize to a square
    `image_size` x `image_size`. Boxes are pixel xyxy (`pascal_voc`) with a `labels` field;
    they are clipped to the image and dropped when less than 20% of them stays visible.
    With `masks`, instance masks (`masks=`) follow the geometry and an `instance` field says
    which objects survived, so their masks can be kept in step."""
    if augment not in PRESETS:
        raise ConfigError(f"data.augment={augment!r} is not one of {', '.join(PRESETS)}")
    steps: list[A.BasicTransform] = []
    if train and custom:
        steps = [instantiate(t) for t in custom]
    elif train and augment != "none":
        steps = _detection_augmentations(augment)
    steps.append(A.Resize(image_size, image_size, interpolation=_interpolation(interpolation)))
    return A.Compose(
        [*steps, A.Normalize(mean=mean, std=std), ToTensorV2()],
        bbox_params=A.BboxParams(
            format="pascal_voc",
            label_fields=["labels", "instance"] if masks else ["labels"],
            min_visibility=0.2,
            min_width=2,
            min_height=2,
            clip=True,
        ),
    )


def _segmentation_augmentations(preset: str, ignore_index: int) -> list[A.BasicTransform]:
    steps = [A.RandomScale(scale_limit=(-0.5, 0.5), p=1.0), A.HorizontalFlip()]
    if preset == "strong":
        steps += [
            A.Affine(rotate=(-10, 10), border_mode=cv2.BORDER_CONSTANT, fill_mask=ignore_index),
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.02, p=0.8),
        ]
    return steps


def build_segmentation_transforms(
    train: bool,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    eval_size: int | None = None,
    ignore_index: int = 255,
    augment: str = "light",
    interpolation: str = "bilinear",
    custom: Sequence[dict] | None = None,
    **_: object,
) -> A.Compose:
    """Mask-aware pipeline: every geometric step moves image and mask together (the mask with
    nearest-neighbour interpolation, so it keeps its ids).

    Images are first scaled so that the longer side is `eval_size` (default `image_size`).
    Eval then pads to `eval_size` squared (bottom and right; padded mask pixels are
    `ignore_index`); train augments, then takes a random `image_size` crop (padded likewise).
    """
    if augment not in PRESETS:
        raise ConfigError(f"data.augment={augment!r} is not one of {', '.join(PRESETS)}")
    eval_size = eval_size or image_size
    interp = _interpolation(interpolation)
    steps: list[A.BasicTransform] = [A.LongestMaxSize(max_size=eval_size, interpolation=interp)]
    size = eval_size
    if train:
        if custom:
            steps += [instantiate(t) for t in custom]
        elif augment != "none":
            steps += _segmentation_augmentations(augment, ignore_index)
        size = image_size
    pad = A.PadIfNeeded(
        size,
        size,
        position="top_left",
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=ignore_index,
    )
    steps += [pad, A.RandomCrop(size, size)] if train else [pad]
    return A.Compose([*steps, A.Normalize(mean=mean, std=std), ToTensorV2()])
