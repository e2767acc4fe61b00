"""The lecture's pictures, drawn by the framework's own code, as PNGs:

    python scripts/visualize.py yolo_grid [--out plots/lecture]  # S x S grid, responsible cells
    python scripts/visualize.py nms                  # candidate boxes before and after NMS
    python scripts/visualize.py anchors              # RPN anchors at one position per level
    python scripts/visualize.py upsampling           # transposed conv vs interpolation
    python scripts/visualize.py segmentation --checkpoint A.ckpt --checkpoint B.ckpt ...

The first four use the embedded shapes scenes and untrained layers, so they run anywhere in
seconds; `segmentation` shows image | ground truth | each checkpoint's prediction.
`--wandb auto|online|offline` also sends the figure to W&B as an image (`auto`: online when an
API key is configured; offline runs land in `<out>/wandb`, for `wandb sync`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from visionlab.data import DetectionDataModule
from visionlab.ops import scratch
from visionlab.ops.boxes import encode_yolo_targets
from visionlab.utils.plots import class_colours, colour_mask, display_image

SIZE = 224


def _scene(data_dir: Path, index: int = 0):
    """One shapes scene as (image (3, S, S) tensor, {boxes, labels}), and the class names."""
    module = DetectionDataModule(
        source="shapes", root=str(data_dir / "shapes"), image_size=SIZE, mean=(0.5,) * 3,
        std=(0.5,) * 3, augment="none", num_workers=0,
        options={"counts": {"train": 8, "val": 4}, "image_size": SIZE},
    )  # fmt: skip
    module.prepare_data()
    module.setup("fit")
    image, target = module.datasets["val"][index]
    return image, target, module.class_names


def _box(ax, box, colour, width=2.0, style="-", label=None):
    x1, y1, x2, y2 = box
    ax.add_patch(
        plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=width, ls=style)
    )
    if label:
        ax.text(x1, y1 - 2, label, color=colour, fontsize=8, va="bottom")


def yolo_grid(data_dir: Path, grid: int = 7) -> plt.Figure:
    image, target, names = _scene(data_dir)
    encoded = encode_yolo_targets([target], grid, len(names), (SIZE, SIZE))[0]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(display_image(image))
    cell = SIZE / grid
    for k in range(1, grid):
        ax.axhline(k * cell, color="white", lw=0.6, alpha=0.7)
        ax.axvline(k * cell, color="white", lw=0.6, alpha=0.7)
    colours = class_colours(len(names)) / 255
    for row, col in torch.nonzero(encoded[..., 0]).tolist():
        label = int(encoded[row, col, 5:].argmax())
        ax.add_patch(
            plt.Rectangle((col * cell, row * cell), cell, cell, color=colours[label], alpha=0.35)
        )
    for box, label in zip(target["boxes"].tolist(), target["labels"].tolist(), strict=True):
        _box(ax, box, colours[label], label=names[label])
        ax.plot((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, "o", color=colours[label], ms=5)
    ax.set_title(f"YOLOv1: the {grid}x{grid} cell holding an object's centre is responsible for it")
    ax.axis("off")
    return fig


def nms(data_dir: Path, threshold: float = 0.5) -> plt.Figure:
    """Candidates scattered around each object, as a detector proposes them, then greedy NMS."""
    image, target, names = _scene(data_dir)
    g = torch.Generator().manual_seed(0)
    boxes, scores, labels = [], [], []
    for box, label in zip(target["boxes"], target["labels"], strict=True):
        size = (box[2:] - box[:2]).repeat(2)
        boxes.append(box + torch.randn(8, 4, generator=g) * size * 0.08)
        scores.append(torch.rand(8, generator=g) * 0.6 + 0.3)
        labels.append(label.repeat(8))
    boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
    kept = scratch.batched_nms(boxes, scores, labels, threshold)
    colours = class_colours(len(names)) / 255
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))
    for ax, index, title in (
        (axes[0], range(len(boxes)), f"before NMS: {len(boxes)} boxes"),
        (axes[1], kept.tolist(), f"after NMS (IoU > {threshold} suppressed): {len(kept)}"),
    ):
        ax.imshow(display_image(image))
        for i in index:
            score = f"{scores[i]:.2f}" if len(index) < len(boxes) else None
            _box(ax, boxes[i].tolist(), colours[labels[i]], 1.2, label=score)
        ax.set_title(title)
        ax.axis("off")
    return fig


def anchors(data_dir: Path) -> plt.Figure:
    """The anchors Faster R-CNN's RPN scores at one feature-map position of each FPN level."""
    import yaml

    from visionlab.models import build_model
    from visionlab.utils.config import config_dir

    text = (config_dir() / "model" / "faster_rcnn.yaml").read_text()
    cfg = yaml.safe_load(text.replace("${data.image_size}", str(SIZE)))
    cfg["backbone"]["pretrained"] = False
    model = build_model(cfg, 3).eval()
    image, _, _ = _scene(data_dir)
    images, _ = model.transform([image])
    features = list(model.backbone(images.tensors).values())
    per_level = model.rpn.anchor_generator(images, features)[0]
    per_position = model.rpn.anchor_generator.num_anchors_per_location()
    counts = [f.shape[-2] * f.shape[-1] * k for f, k in zip(features, per_position, strict=True)]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(display_image(image))
    colours = plt.cm.tab10(np.arange(len(features)))
    start = 0
    for level, (count, feature) in enumerate(zip(counts, features, strict=True)):
        k = per_position[level]
        h, w = feature.shape[-2:]
        centre = ((h // 2) * w + w // 2) * k  # the middle position of this level
        for n, box in enumerate(per_level[start + centre : start + centre + k].tolist()):
            stride = SIZE // w
            _box(
                ax,
                box,
                colours[level],
                1.2,
                label=f"level {level} (stride {stride})" if n == 0 else None,
            )
        start += count
    ax.set_title("RPN anchors at the centre position of each FPN level\n(sizes x aspect ratios)")
    ax.set_xlim(-SIZE * 0.5, SIZE * 1.5)
    ax.set_ylim(SIZE * 1.5, -SIZE * 0.5)
    return fig


def upsampling() -> plt.Figure:
    """A constant image upsampled 8x by three stride-2 layers: transposed convolutions whose
    kernels overlap unevenly leave a checkerboard; interpolation + convolution does not."""
    torch.manual_seed(0)
    x = torch.ones(1, 4, 8, 8)
    transposed = nn.Sequential(
        *[nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1) for _ in range(3)]
    )
    resize = nn.Sequential(
        *[
            nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, 4, 3, padding=1))
            for _ in range(3)
        ]
    )
    with torch.no_grad():
        outputs = {
            "transposed convolution (3x3, stride 2)": transposed(x),
            "nearest upsampling + 3x3 convolution": resize(x),
        }
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2))
    for ax, (title, out) in zip(axes, outputs.items(), strict=True):
        channel = out[0, 0, 8:-8, 8:-8].numpy()  # away from the zero-padded border
        relative = (channel - channel.mean()) / abs(channel.mean())
        spread = float(np.abs(relative).max())
        ax.imshow(relative, cmap="coolwarm", vmin=-0.5, vmax=0.5)
        ax.set_title(f"{title}\nlargest deviation from the mean: {spread:.0%}", fontsize=10)
        ax.axis("off")
    fig.suptitle("Upsampling a constant input 8x with untrained layers")
    return fig


def segmentation(checkpoints: list[Path], index: int = 0) -> plt.Figure:
    """Image | ground truth | each checkpoint's prediction, on the first checkpoint's val data."""
    from omegaconf import OmegaConf

    from visionlab import load_model
    from visionlab.cli.common import build_datamodule

    tasks = [load_model(path) for path in checkpoints]
    datamodule = build_datamodule(OmegaConf.create(tasks[0].run_config["data"]), "segment")
    datamodule.setup("validate")
    image, mask = datamodule.datasets["val"][index]
    names = tasks[0].hparams.class_names
    colours = class_colours(len(names))
    panels = {"image": display_image(image), "ground truth": colour_mask(mask.numpy(), colours)}
    for path, task in zip(checkpoints, tasks, strict=True):
        with torch.no_grad():
            pred = task(image.unsqueeze(0)).argmax(1)[0].numpy()
        panels[f"{task.hparams.model['name']} ({path.parent.parent.name})"] = colour_mask(
            pred, colours
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6))
    for ax, (title, picture) in zip(axes, panels.items(), strict=True):
        ax.imshow(picture)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return fig


def send_to_wandb(path: Path, figure: str, mode: str, project: str) -> None:
    """The PNG as the image `lecture/<figure>` of a W&B run of its own."""
    import wandb

    from visionlab.utils.loggers import wandb_api_key_available

    if mode == "auto":
        mode = "online" if wandb_api_key_available() else "offline"
    with wandb.init(
        project=project, dir=path.parent, mode=mode, job_type="lecture-figures", name=figure
    ) as run:
        run.log({f"lecture/{figure}": wandb.Image(str(path), caption=figure)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "figure", choices=["yolo_grid", "nms", "anchors", "upsampling", "segmentation"]
    )
    parser.add_argument("--out", type=Path, default=Path("plots/lecture"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--checkpoint", type=Path, action="append", default=[])
    parser.add_argument("--wandb", choices=["auto", "online", "offline"], help="also log to W&B")
    parser.add_argument("--wandb-project", default="visionlab")
    args = parser.parse_args()
    if args.figure == "segmentation":
        if not args.checkpoint:
            parser.error("segmentation needs --checkpoint (one per model)")
        fig = segmentation(args.checkpoint)
    elif args.figure == "upsampling":
        fig = upsampling()
    else:
        fig = {"yolo_grid": yolo_grid, "nms": nms, "anchors": anchors}[args.figure](args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.figure}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(path)
    if args.wandb:
        send_to_wandb(path, args.figure, args.wandb, args.wandb_project)


if __name__ == "__main__":
    main()
