"""The embedded `shapes` dataset: coloured circles, squares and triangles on textured
backgrounds, rendered deterministically and written once in real on-disk formats."""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES = ("circle", "square", "triangle")
FORMAT_VERSION = 2  # 2: detection annotations carry RLE instance masks


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A two-colour linear gradient at a random angle, with stripes and pixel noise."""
    c0, c1 = rng.uniform(40, 215, size=(2, 3))
    angle = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.0) / 2.0
    image = c0 + (c1 - c0) * t[..., None]
    stripes = np.sin((xx * np.sin(angle) - yy * np.cos(angle)) * rng.uniform(8, 30))
    image += rng.uniform(5, 20) * stripes[..., None]
    image += rng.normal(0, 8, size=image.shape)
    return image


def _shape_mask(rng: np.random.Generator, class_id: int, size: int, extent: float) -> np.ndarray:
    """A boolean mask of one shape whose bounding circle has diameter `extent * size`."""
    radius = extent * size / 2
    cx, cy = rng.uniform(radius, size - radius, size=2)
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if CLASS_NAMES[class_id] == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=1)
    else:
        corners = 4 if CLASS_NAMES[class_id] == "square" else 3
        start = rng.uniform(0, 2 * math.pi)
        draw.polygon(
            [
                (
                    cx + radius * math.cos(start + k * 2 * math.pi / corners),
                    cy + radius * math.sin(start + k * 2 * math.pi / corners),
                )
                for k in range(corners)
            ],
            fill=1,
        )
    return np.asarray(canvas, dtype=bool)


def render_scene(
    rng: np.random.Generator,
    size: int,
    classes: list[int],
    extent: tuple[float, float] = (0.35, 0.6),
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Render one image holding a shape per entry of `classes`.

    Returns the RGB uint8 image and `(class_id, visible_mask)` per shape, in drawing order
    (later shapes occlude earlier ones).
    """
    image = _background(rng, size)
    instances: list[tuple[int, np.ndarray]] = []
    for class_id in classes:
        mask = _shape_mask(rng, class_id, size, rng.uniform(*extent))
        colour = rng.uniform(0, 255, size=3)
        shading = rng.normal(0, 6, size=(size, size, 1))
        image[mask] = (colour + shading[mask]).clip(0, 255)
        instances = [(c, m & ~mask) for c, m in instances]
        instances.append((class_id, mask))
    return image.clip(0, 255).astype(np.uint8), instances


def _render_classification(folder: Path, split: str, split_no: int, i: int, size: int, seed: int):
    class_id = i % len(CLASS_NAMES)
    image, _ = render_scene(np.random.default_rng([seed, split_no, i]), size, [class_id])
    Image.fromarray(image).save(folder / split / CLASS_NAMES[class_id] / f"{i:05d}.png")


def _render_detection(folder: Path, split: str, split_no: int, i: int, size: int, seed: int):
    """One scene of 1-4 shapes saved as PNG; returns its COCO annotations (without ids), each
    with its visible mask as compressed RLE."""
    from visionlab.data.masks import coco_rle

    rng = np.random.default_rng([seed, split_no, i])
    classes = rng.integers(0, len(CLASS_NAMES), size=rng.integers(1, 5)).tolist()
    image, instances = render_scene(rng, size, classes, extent=(0.15, 0.4))
    Image.fromarray(image).save(folder / "images" / split / f"{i:05d}.png")
    annotations = []
    for class_id, mask in instances:
        ys, xs = np.nonzero(mask)
        if len(xs) < 16:  # fully or almost fully occluded
            continue
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        annotations.append(
            {
                "category_id": class_id + 1,
                "bbox": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                "area": int(mask.sum()),
                "segmentation": coco_rle(mask),
                "iscrowd": 0,
            }
        )
    return annotations


def _render_segmentation(folder: Path, split: str, split_no: int, i: int, size: int, seed: int):
    """One scene of 1-4 shapes and its class-index mask (0 = background, 1.. = shapes)."""
    rng = np.random.default_rng([seed, split_no, i])
    classes = rng.integers(0, len(CLASS_NAMES), size=rng.integers(1, 5)).tolist()
    image, instances = render_scene(rng, size, classes, extent=(0.2, 0.5))
    mask = np.zeros((size, size), dtype=np.uint8)
    for class_id, visible in instances:
        mask[visible] = class_id + 1
    Image.fromarray(image).save(folder / "images" / split / f"{i:05d}.png")
    Image.fromarray(mask).save(folder / "masks" / split / f"{i:05d}.png")


def _run(render, jobs: list[tuple]) -> list:
    """Render every job, in worker processes when there are many and cores to spare."""
    if len(jobs) < 1000 or (os.cpu_count() or 1) < 4:
        return [render(*job) for job in jobs]
    with ProcessPoolExecutor() as pool:
        return list(pool.map(render, *zip(*jobs, strict=True), chunksize=64))


def write_classification(folder: Path, counts: dict[str, int], image_size: int, seed: int) -> None:
    """Write one-shape images as an ImageFolder tree `folder/<split>/<class>/<n>.png`.

    Every image has its own seeded generator, so the output does not depend on the order or
    the number of worker processes that render it.
    """
    jobs = []
    for split_no, (split, count) in enumerate(counts.items()):
        for name in CLASS_NAMES:
            (folder / split / name).mkdir(parents=True, exist_ok=True)
        jobs += [(folder, split, split_no, i, image_size, seed) for i in range(count)]
    _run(_render_classification, jobs)


def write_detection(folder: Path, counts: dict[str, int], image_size: int, seed: int) -> None:
    """Write multi-shape scenes in COCO form: `images/<split>/<n>.png` and
    `annotations/<split>.json` (category ids 1..3, as COCO numbers them)."""
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(CLASS_NAMES)]
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    for split_no, (split, count) in enumerate(counts.items()):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        jobs = [(folder, split, split_no, i, image_size, seed) for i in range(count)]
        images, annotations = [], []
        for i, objects in enumerate(_run(_render_detection, jobs)):
            images.append(
                {
                    "id": i + 1,
                    "file_name": f"{i:05d}.png",
                    "width": image_size,
                    "height": image_size,
                }
            )
            for obj in objects:
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **obj})
        coco = {"images": images, "annotations": annotations, "categories": categories}
        (folder / "annotations" / f"{split}.json").write_text(json.dumps(coco))


def write_segmentation(folder: Path, counts: dict[str, int], image_size: int, seed: int) -> None:
    """Write multi-shape scenes as `images/<split>/<n>.png` with class-index masks
    `masks/<split>/<n>.png` (0 background, then CLASS_NAMES in order)."""
    jobs = []
    for split_no, (split, count) in enumerate(counts.items()):
        for kind in ("images", "masks"):
            (folder / kind / split).mkdir(parents=True, exist_ok=True)
        jobs += [(folder, split, split_no, i, image_size, seed) for i in range(count)]
    _run(_render_segmentation, jobs)


WRITERS = {
    "classify": write_classification,
    "detect": write_detection,
    "segment": write_segmentation,
}


def ensure_generated(
    folder: Path, counts: dict[str, int], image_size: int, seed: int, kind: str = "classify"
) -> Path:
    """Generate the `kind` variant (classify | detect | segment) into `folder` unless it is there.

    Safe when several processes (DDP ranks) call it at once: each renders into a private
    temporary folder and the first to finish moves it into place.
    """
    manifest = {
        "version": FORMAT_VERSION,
        "kind": kind,
        "counts": counts,
        "image_size": image_size,
        "seed": seed,
    }
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file() and json.loads(manifest_path.read_text()) == manifest:
        return folder
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    staging = folder.parent / f".{folder.name}-{uuid.uuid4().hex}"
    WRITERS[kind](staging, counts, image_size, seed)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, folder)
    except OSError:  # another process moved its copy into place first
        shutil.rmtree(staging, ignore_errors=True)
    return folder
