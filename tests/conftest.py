"""Shared fixtures: Hydra configs composed like the entry points do, small shapes data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from visionlab.utils.config import compose_config

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"


def model_configs(task: str | None = None) -> list[str]:
    """The options of `conf/model/` (those serving `task`, when given)."""
    from visionlab.utils.config import model_tasks

    options = sorted(path.stem for path in (CONF_DIR / "model").glob("*.yaml"))
    return [o for o in options if task is None or task in model_tasks(o)]


# Small, fast shapes runs: 64 px images, 16-image batches, no worker processes.
FAST = [
    "++data.options.counts={train:48,val:21,test:21}",
    "data.image_size=64",
    "++data.options.image_size=64",
    "data.batch_size=16",
    "data.num_workers=0",
    "extras.print_config=false",
]
# No report callbacks (plots, per-class tables): for runs whose reports no test reads
NO_REPORTS = [
    f"callbacks.{task}_report=null" for task in ("classification", "detection", "segmentation")
]
# Mask R-CNN in a few seconds: the mask head's convolutions run on every RoI sampled in training
# and on each of an untrained model's 100 most likely boxes in evaluation
FAST_MASK_RCNN = ["data.image_size=96", "data.batch_size=4", "model.detections_per_image=10"]


@pytest.fixture(scope="session", autouse=True)
def scan_cache(tmp_path_factory) -> None:
    """Data check results go to a temporary cache, not the user's."""
    os.environ["VISIONLAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One generated-data folder for the whole session (shapes is generated once)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def make_cfg(tmp_path, data_dir) -> Callable[..., DictConfig]:
    """`make_cfg(*overrides, name="train", run="run")` -> a composed config for a fast run."""

    def make(
        *overrides: str, name: str = "train", run: str = "run", fast: bool = True
    ) -> DictConfig:
        extra = FAST if (fast and name == "train") else []
        return compose_config(name, [*extra, *overrides], tmp_path / run, REPO, data_dir)

    yield make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def imagefolder_root(tmp_path_factory) -> Path:
    """A small ImageFolder dataset: train/ and val/ with three shape classes."""
    from visionlab.data.shapes import write_classification

    root = tmp_path_factory.mktemp("imagefolder")
    write_classification(root, {"train": 12, "val": 6}, image_size=48, seed=1)
    return root


@pytest.fixture(scope="session")
def csv_root(imagefolder_root, tmp_path_factory) -> Path:
    """The ImageFolder images listed in train.csv / val.csv (`path,label`)."""
    root = tmp_path_factory.mktemp("csv")
    for split in ("train", "val"):
        rows = ["path,label"]
        for image in sorted((imagefolder_root / split).rglob("*.png")):
            target = root / "images" / split / f"{image.parent.name}_{image.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.read_bytes())
            rows.append(f"{target.relative_to(root)},{image.parent.name}")
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="session")
def detection_roots(tmp_path_factory) -> dict[str, Path]:
    """The same small shapes scenes in every detection format: coco, voc, yolo, csv_boxes."""
    import json
    import shutil
    import xml.etree.ElementTree as ET

    from visionlab.data.shapes import write_detection

    base = tmp_path_factory.mktemp("detection")
    coco = base / "coco"
    write_detection(coco, {"train": 6, "val": 3}, image_size=64, seed=2)
    roots = {"coco": coco}
    names = {
        c["id"]: c["name"]
        for c in json.loads((coco / "annotations/train.json").read_text())["categories"]
    }

    voc, yolo, csv_root = base / "voc", base / "yolo", base / "csv_boxes"
    for split in ("train", "val"):
        data = json.loads((coco / f"annotations/{split}.json").read_text())
        per_image = {img["id"]: [] for img in data["images"]}
        for ann in data["annotations"]:
            per_image[ann["image_id"]].append(ann)
        csv_rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
        (voc / "ImageSets/Main").mkdir(parents=True, exist_ok=True)
        (yolo / "images" / split).mkdir(parents=True, exist_ok=True)
        (yolo / "labels" / split).mkdir(parents=True, exist_ok=True)
        for img in data["images"]:
            source = coco / "images" / split / img["file_name"]
            name = f"{split}_{img['file_name']}"
            for folder in (voc / "JPEGImages", csv_root / "images"):
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, folder / name)
            shutil.copy(source, yolo / "images" / split / name)
            ann_el = ET.Element("annotation")
            ET.SubElement(ann_el, "filename").text = name
            size = ET.SubElement(ann_el, "size")
            ET.SubElement(size, "width").text = str(img["width"])
            ET.SubElement(size, "height").text = str(img["height"])
            yolo_lines = []
            for ann in per_image[img["id"]]:
                x, y, w, h = ann["bbox"]
                obj = ET.SubElement(ann_el, "object")
                ET.SubElement(obj, "name").text = names[ann["category_id"]]
                ET.SubElement(obj, "difficult").text = "0"
                box = ET.SubElement(obj, "bndbox")
                for key, value in zip(
                    ("xmin", "ymin", "xmax", "ymax"), (x + 1, y + 1, x + w, y + h), strict=True
                ):
                    ET.SubElement(box, key).text = str(value)
                row = [f"images/{name}", img["width"], img["height"], names[ann["category_id"]]]
                csv_rows.append(",".join(map(str, [*row, x, y, x + w, y + h])))
                width, height = img["width"], img["height"]
                cx, cy = (x + w / 2) / width, (y + h / 2) / height
                yolo_lines.append(f"{ann['category_id'] - 1} {cx} {cy} {w / width} {h / height}")
            (voc / "Annotations").mkdir(exist_ok=True)
            ET.ElementTree(ann_el).write(voc / "Annotations" / f"{Path(name).stem}.xml")
            (yolo / "labels" / split / f"{Path(name).stem}.txt").write_text(
                "\n".join(yolo_lines) + "\n"
            )
        (voc / "ImageSets/Main" / f"{split}.txt").write_text(
            "\n".join(f"{split}_{Path(img['file_name']).stem}" for img in data["images"]) + "\n"
        )
        (csv_root / f"{split}.csv").write_text("\n".join(csv_rows) + "\n")
    (yolo / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: [circle, square, triangle]\n"
    )
    roots |= {"voc": voc, "yolo": yolo, "csv_boxes": csv_root}
    return roots


def overfit_overrides(epochs: int) -> list[str]:
    """Train a few images for `epochs` at a constant LR and validate once, at the end."""
    return [
        "task.scheduler.name=none",
        f"trainer.max_epochs={epochs}",
        f"trainer.check_val_every_n_epoch={epochs}",
        "callbacks.early_stopping=null",
        "task.plot_every_n_epochs=1000",
        "test=false",
    ]


def detection_overfit_overrides(root: Path, epochs: int) -> list[str]:
    """`overfit_overrides` on the images of `detection_overfit_root`."""
    return [
        "data=coco",
        f"data.root={root}",
        "data.image_size=224",
        "data.augment=none",
        "data.batch_size=4",
        *overfit_overrides(epochs),
    ]


@pytest.fixture(scope="session")
def detection_overfit_root(tmp_path_factory) -> Path:
    """Four 224 px shapes scenes (COCO, RLE instance masks) whose val split is the train split."""
    import shutil

    from visionlab.data.shapes import write_detection

    root = tmp_path_factory.mktemp("detection_overfit")
    write_detection(root, {"train": 4}, image_size=224, seed=3)
    shutil.copy(root / "annotations/train.json", root / "annotations/val.json")
    shutil.copytree(root / "images/train", root / "images/val")
    return root


def pycocotools_map(preds: list[dict], targets: list[dict]) -> tuple[float, float, float]:
    """(mAP@[.5:.95], mAP50, mAP75) of xyxy `preds`/`targets` tensors by pycocotools itself."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [b[0], b[1], b[2] - b[0], b[3] - b[1]]

    images, annotations, results = [], [], []
    for image_id, (p, t) in enumerate(zip(preds, targets, strict=True)):
        images.append({"id": image_id, "width": 1000, "height": 1000})
        for b, c in zip(t["boxes"].tolist(), t["labels"].tolist(), strict=True):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": c,
                "bbox": xywh(b), "area": (b[2] - b[0]) * (b[3] - b[1]), "iscrowd": 0,
            })  # fmt: skip
        for b, c, s in zip(
            p["boxes"].tolist(), p["labels"].tolist(), p["scores"].tolist(), strict=True
        ):
            results.append({"image_id": image_id, "category_id": c, "score": s, "bbox": xywh(b)})
    classes = sorted({a["category_id"] for a in annotations} | {r["category_id"] for r in results})
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c} for c in classes],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return tuple(float(v) for v in evaluator.stats[:3])


def random_boxes(n: int, generator: torch.Generator, size: float = 100.0) -> torch.Tensor:
    """`n` valid xyxy boxes with corners inside `size` x `size` (plus their extent)."""
    xy = torch.rand(n, 2, generator=generator) * size
    return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=generator) * size / 2], dim=1)


def random_detections(n_images: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Ground truth and imperfect predictions (jittered true boxes plus false positives)."""
    generator = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for _ in range(n_images):
        n = int(torch.randint(1, 6, (1,), generator=generator))
        boxes = random_boxes(n, generator)
        labels = torch.randint(0, 3, (n,), generator=generator)
        noisy = boxes + torch.randn(n, 4, generator=generator) * 4
        noisy = torch.cat(
            [torch.minimum(noisy[:, :2], noisy[:, 2:]), torch.maximum(noisy[:, :2], noisy[:, 2:])],
            1,
        )
        extra = random_boxes(3, generator)
        preds.append({
            "boxes": torch.cat([noisy, extra]),
            "scores": torch.rand(n + 3, generator=generator),
            "labels": torch.cat([labels, torch.randint(0, 3, (3,), generator=generator)]),
        })  # fmt: skip
        targets.append({"boxes": boxes, "labels": labels})
    return preds, targets


def run_python(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python <args>` in the repository; fails the test with the output's tail."""
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _in_this_process(main: Callable[[DictConfig], Any], name: str, overrides, run_dir: Path):
    """`main` on `conf/<name>.yaml` composed with `overrides`, written to `run_dir`."""
    try:
        return main(compose_config(name, overrides, run_dir, REPO))
    finally:
        GlobalHydra.instance().clear()


def evaluate_in_one_process(checkpoint: str | Path, run_dir: Path) -> dict:
    """`evaluate.py`'s evaluation on the validation split, in this CPU process: the metrics."""
    from visionlab.cli.evaluate import evaluate

    overrides = [f"ckpt_path={checkpoint}", "split=val", "trainer.accelerator=cpu"]
    return _in_this_process(evaluate, "eval", overrides, run_dir)


def train_in_one_process(overrides: list[str], run_dir: Path) -> None:
    """`python train.py <overrides>`'s run, written to `run_dir`, in this process."""
    from visionlab.cli.task_choice import task_argv
    from visionlab.cli.train import train

    _in_this_process(train, "train", task_argv(["train.py", *overrides])[1:], run_dir)


def kill_and_resume(overrides: list[str], run_dir: Path) -> None:
    """Start `python train.py <overrides>` (writing to `run_dir`), SIGKILL it early in its
    second epoch, then `train.py resume=<run_dir>` to the end."""
    process = subprocess.Popen(
        [sys.executable, "train.py", *overrides, f"hydra.run.dir={run_dir}"], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints/last.ckpt").exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # into the second epoch
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_dir / "results.json").exists(), "the run finished before it was killed"
    run_python("train.py", f"resume={run_dir}")


def assert_same_outcome(straight: Path, resumed: Path) -> None:
    """Two run folders ended with the same metrics (speeds aside) and last weights (the
    average and the raw weights when the runs kept an EMA)."""
    from visionlab.utils.checkpoint import read_checkpoint

    results = [json.loads((d / "results.json").read_text())["metrics"] for d in (straight, resumed)]
    quality = [{k: v for k, v in r.items() if "img_per_s" not in k} for r in results]
    assert quality[1] == pytest.approx(quality[0], abs=1e-6)
    checkpoints = [read_checkpoint(d / "checkpoints/last.ckpt") for d in (straight, resumed)]
    for key in ("state_dict", "current_model_state"):  # the raw weights too, under EMA
        if key in checkpoints[0]:
            weights = [checkpoint[key] for checkpoint in checkpoints]
            assert all(torch.allclose(weights[0][k], weights[1][k], atol=1e-6) for k in weights[0])
