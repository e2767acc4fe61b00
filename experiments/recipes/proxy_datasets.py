"""Two detection sets in Pascal VOC, built from the repository's data, with what raccoon and
bccd lack: several objects of varied sizes per image, in scenes no recipe was tuned on.

- `crowded_raccoon`: each 512 x 512 image is a 2 x 2 or 3 x 3 grid of raccoon photos, each
  shrunk by a random factor and placed at a random spot of its cell. Training images come from
  raccoon's training split only and validation images from its held-out split only.
- `camvid_boxes`: CamVid's street scenes with a box around each connected region of its car
  and pedestrian masks (at least `MIN_SIDE` pixels each way and `MIN_AREA` pixels); cars parked
  side by side merge into one region, so one box.

python experiments/recipes/proxy_datasets.py crowded_raccoon|camvid_boxes <out folder>
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from visionlab.data.io import load_rgb
from visionlab.data.sources.csv_boxes import read_csv_boxes

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SIDE = 512
GRIDS = (2, 3)  # photos per row and column, drawn per image
SHRINK = (0.5, 1.0)  # a photo's scale against the largest that fits its cell
CAMVID_CLASSES = {8: "car", 9: "pedestrian"}  # mask value: name
MIN_SIDE, MIN_AREA = 8, 100  # pixels


def voc_annotation(filename: str, size: tuple, boxes, names: list[str]) -> ET.ElementTree:
    """A VOC `<annotation>` for an image of `size` (width, height), with 1-based inclusive
    pixel boxes."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size_element = ET.SubElement(root, "size")
    for key, value in zip(("width", "height", "depth"), (*size, 3), strict=True):
        ET.SubElement(size_element, key).text = str(value)
    for (x0, y0, x1, y1), name in zip(boxes, names, strict=True):
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
        voc_annotation(f"{image_id}.jpg", (SIDE, SIDE), boxes, ["raccoon"] * len(boxes)).write(
            out / "Annotations" / f"{image_id}.xml"
        )
        ids.append(image_id)
        sides += np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).tolist()
    write_split_list(out, split, ids)
    return sides, len(sides) / count


def crowded_raccoon(out: Path, train_count: int = 130, val_count: int = 40) -> None:
    source = read_csv_boxes(
        DATA / "raccoon",
        files={"train": "splits/train_labels.csv", "val": "splits/test_labels.csv"},
        images="images",
        one_based=True,
    )
    make_folders(out)
    rng = np.random.default_rng(0)
    for split, count in (("train", train_count), ("val", val_count)):
        sides, per_image = write_split(source.splits[split], count, split, out, rng)
        report(split, count, sides, per_image)


def mask_boxes(mask: np.ndarray) -> tuple[list, list[str]]:
    """A box (0-based xyxy) and a name for each large enough region of each class."""
    boxes, names = [], []
    for value, name in CAMVID_CLASSES.items():
        _, _, stats, _ = cv2.connectedComponentsWithStats((mask == value).astype(np.uint8))
        for x, y, w, h, area in stats[1:]:
            if min(w, h) >= MIN_SIDE and area >= MIN_AREA:
                boxes.append((x, y, x + w, y + h))
                names.append(name)
    return boxes, names


def camvid_boxes(out: Path) -> None:
    make_folders(out)
    for split in ("train", "val"):
        ids, sides = [], []
        for mask_path in sorted((DATA / "camvid" / f"{split}annot").glob("*.png")):
            mask = np.asarray(Image.open(mask_path))
            boxes, names = mask_boxes(mask)
            image_id = mask_path.stem
            Image.open(DATA / "camvid" / split / mask_path.name).convert("RGB").save(
                out / "JPEGImages" / f"{image_id}.jpg", quality=95
            )
            size = (mask.shape[1], mask.shape[0])
            voc_annotation(f"{image_id}.jpg", size, boxes, names).write(
                out / "Annotations" / f"{image_id}.xml"
            )
            ids.append(image_id)
            sides += [((x1 - x0) * (y1 - y0)) ** 0.5 for x0, y0, x1, y1 in boxes]
        write_split_list(out, split, ids)
        report(split, len(ids), sides, len(sides) / len(ids))


def make_folders(out: Path) -> None:
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (out / folder).mkdir(parents=True, exist_ok=True)


def write_split_list(out: Path, split: str, ids: list[str]) -> None:
    (out / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")


def report(split: str, count: int, sides: list, per_image: float) -> None:
    low, mid, high = np.percentile(sides, [5, 50, 95])
    print(
        f"{split}: {count} images, {per_image:.1f} objects per image, "
        f"box side (sqrt of area) 5/50/95th percentile {low:.0f}/{mid:.0f}/{high:.0f} px"
    )


if __name__ == "__main__":
    {"crowded_raccoon": crowded_raccoon, "camvid_boxes": camvid_boxes}[sys.argv[1]](
        Path(sys.argv[2])
    )
