"""What lies under the detections of a CamVid-boxes checkpoint that match no box: each unmatched
detection (scoring at least the confusion matrix's threshold) is counted by the CamVid class
that covers at least `SHARE` of its pixels in the full mask (cyclist first, then pedestrian,
car), else as `other`.

python experiments/recipes/camvid_unmatched.py <best.ckpt> [camvid folder]
"""

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from PIL import Image
from unmatched_detections import unmatched

from visionlab.cli.common import build_datamodule
from visionlab.metrics import DetectionConfusionMatrix
from visionlab.utils.checkpoint import load_model

CAMVID = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "camvid"
COVERS = {10: "cyclist", 9: "pedestrian", 8: "car"}  # mask value: name, checked in this order
SHARE = 0.2


def covering_class(mask: np.ndarray, box: list[float]) -> str:
    """The first of `COVERS` holding at least `SHARE` of the box's pixels, else `other`."""
    x0, y0, x1, y1 = (int(v) for v in (box[0], box[1], np.ceil(box[2]), np.ceil(box[3])))
    region = mask[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    for value, name in COVERS.items():
        if (region == value).mean() >= SHARE:
            return name
    return "other"


def main(ckpt: str, camvid: Path = CAMVID) -> None:
    task = load_model(ckpt).eval()
    datamodule = build_datamodule(OmegaConf.create(task.run_config["data"]), task.name)
    datamodule.setup("validate")
    loader = datamodule.val_dataloader()
    samples = iter(loader.dataset.samples)
    names = datamodule.class_names
    threshold = DetectionConfusionMatrix(len(names)).score_threshold
    counts = {name: Counter() for name in names}
    with torch.no_grad():
        for images, targets in loader:
            for image, pred, target in zip(
                images, task.predict_boxes(images), targets, strict=True
            ):
                mask = np.asarray(
                    Image.open(camvid / "valannot" / f"{next(samples).path.stem}.png")
                )
                scale = [mask.shape[1] / image.shape[-1], mask.shape[0] / image.shape[-2]] * 2
                extra = unmatched(pred, target, threshold)
                for box, label in zip(
                    extra["boxes"].tolist(), extra["labels"].tolist(), strict=True
                ):
                    box = [v * s for v, s in zip(box, scale, strict=True)]
                    counts[names[label]][covering_class(mask, box)] += 1
    print(json.dumps({name: dict(c) for name, c in counts.items()}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], *(Path(a) for a in sys.argv[2:]))
