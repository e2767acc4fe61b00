"""A crowded raccoon set in Pascal VOC: each 512 x 512 image is a 2 x 2 or 3 x 3 grid of raccoon
photos, each shrunk by a random factor and placed at a random spot of its cell, so several
animals per image at varied sizes. Training images come from raccoon's training split only and
validation images from its held-out split only, so no photo is on both sides.

python experiments/recipes/crowded_raccoon.py <out folder> [train images] [val images]
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

from visionlab.data.io import load_rgb
from visionlab.data.sources.csv_boxes import read_csv_boxes

RACCOON = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "raccoon"
SIDE = 512
GRIDS = (2, 3)  # photos per row and column, drawn per image
SHRINK = (0.5, 1.0)  # a photo's scale against the largest that fits its cell


def voc_annotation(filename: str, boxes: np.ndarray, name: str) -> ET.ElementTree:
    """A VOC `<annotation>` with 1-based inclusive pixel boxes."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    for key, value in (("width", SIDE), ("height", SIDE), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    for x0, y0, x1, y1 in boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        box = ET.SubElement(obj, "bndbox")
        for key, value in zip(
            ("xmin", "ymin", "xmax", "ymax"), (x0 + 1, y0 + 1, x1, y1), strict=True
        ):
            ET.SubElement(box, key).text = str(round(float(value)))
    return ET.ElementTree(root)


def grid_image(photos, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The photos (`(image, boxes)`, n x n of them) on a grey canvas, one per cell."""
    grid = round(len(photos) ** 0.5)
    cell = SIDE // grid
    canvas = np.full((SIDE, SIDE, 3), 114, dtype=np.uint8)
    all_boxes = []
    for n, (image, boxes) in enumerate(photos):
        scale = cell / max(image.shape[:2]) * rng.uniform(*SHRINK)
        h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
        x0 = (n % grid) * cell + int(rng.integers(0, cell - w + 1))
        y0 = (n // grid) * cell + int(rng.integers(0, cell - h + 1))
        canvas[y0 : y0 + h, x0 : x0 + w] = np.asarray(Image.fromarray(image).resize((w, h)))
        all_boxes.append(boxes * scale + [x0, y0] * 2)
    return canvas, np.concatenate(all_boxes)


def write_split(samples, count: int, split: str, out: Path, rng: np.random.Generator) -> tuple:
    """`count` grid images of different photos of `samples`; returns their box sides and the
    mean number of boxes per image."""
    ids, sides = [], []
    for n in range(count):
        grid = int(rng.choice(GRIDS))
        picks = rng.choice(len(samples), grid * grid, replace=False)
        image, boxes = grid_image(
            [(load_rgb(samples[i].path), samples[i].boxes) for i in picks], rng
        )
        image_id = f"{split}_{n:04d}"
        Image.fromarray(image).save(out / "JPEGImages" / f"{image_id}.jpg", quality=95)
        voc_annotation(f"{image_id}.jpg", boxes, "raccoon").write(
            out / "Annotations" / f"{image_id}.xml"
        )
        ids.append(image_id)
        sides += np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).tolist()
    (out / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return sides, len(sides) / count


def main(out: Path, train_count: int = 130, val_count: int = 40) -> None:
    source = read_csv_boxes(
        RACCOON,
        files={"train": "splits/train_labels.csv", "val": "splits/test_labels.csv"},
        images="images",
        one_based=True,
    )
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", train_count), ("val", val_count)):
        sides, per_image = write_split(source.splits[split], count, split, out, rng)
        low, mid, high = np.percentile(sides, [5, 50, 95])
        print(
            f"{split}: {count} images, {per_image:.1f} raccoons per image, "
            f"box side (sqrt of area) 5/50/95th percentile {low:.0f}/{mid:.0f}/{high:.0f} px"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:]))
