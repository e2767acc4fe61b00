"""Figures saved to the run folder and sent to image-capable loggers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def confusion_matrix_figure(
    matrix: np.ndarray, class_names: list[str], title: str, annotate: str = "counts"
) -> plt.Figure:
    """Row-normalised confusion matrix (rows: true class) annotated with `counts` or `rates`
    (for pixel counts, which are too long to print)."""
    counts = np.asarray(matrix, dtype=np.int64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    many = n > 25  # no counts in the cells, small vertical class names, 0.2 in per class
    size = 4 + 0.2 * n if many else 2.5 + 0.45 * n
    fig, ax = plt.subplots(figsize=(size + 1.5, size), dpi=110)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xlabel="predicted",
        ylabel="true",
        title=f"{title}  (accuracy {np.trace(counts) / max(counts.sum(), 1):.3f})",
    )
    ax.set_xticklabels(class_names, rotation=90 if many else 45, ha="center" if many else "right")
    ax.set_yticklabels(class_names)
    ax.tick_params(labelsize=7 if many else 10)
    if not many:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(counts[i, j]) if annotate == "counts" else f"{rates[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black",
                )
    fig.tight_layout()
    return fig


def training_curves_figure(metrics_csv: Path) -> plt.Figure | None:
    """Loss (train and val) and every other epoch-level val metric against the epoch."""
    import csv

    with metrics_csv.open() as f:
        rows = list(csv.DictReader(f))
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        if not row.get("epoch"):
            continue
        for key, value in row.items():
            if value and (key.startswith("val/") or key == "train/loss_epoch"):
                series.setdefault(key, {})[int(row["epoch"])] = float(value)
    trained = series.get("train/loss_epoch", {})
    if not trained:
        return None
    last = max(trained)  # later rows come from the final validate/test of the best checkpoint
    series = {k: {e: v for e, v in s.items() if e <= last} for k, s in series.items()}
    others = sorted(
        k for k in series if "loss" not in k and not k.endswith(("_best", "img_per_s"))
    )  # quality metrics only: throughput has its own scale
    fig, axes = plt.subplots(1, 2 if others else 1, figsize=(11 if others else 5.5, 4), dpi=110)
    axes = np.atleast_1d(axes)
    for key, label in (("train/loss_epoch", "train"), ("val/loss", "val")):
        if key in series:
            epochs, values = zip(*sorted(series[key].items()), strict=True)
            axes[0].plot(np.array(epochs) + 1, values, marker="o", label=label)
    axes[0].set(title="loss", xlabel="epoch")
    axes[0].legend()
    for key in others:
        epochs, values = zip(*sorted(series[key].items()), strict=True)
        axes[1].plot(np.array(epochs) + 1, values, marker="o", label=key)
    if others:
        axes[1].set(title="validation metrics", xlabel="epoch")
        axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def save_and_log_figure(
    fig: plt.Figure, path: Path, key: str, loggers: list[Logger], step: int
) -> Path:
    """Write `fig` as PNG to `path`, send it to W&B / TensorBoard loggers, and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(key, fig, global_step=step)
    plt.close(fig)
    return path


def per_class_figure(rows: list[tuple[str, float]], metric: str, title: str) -> plt.Figure:
    """Horizontal bars of a [0, 1] metric per class, best at the top; NaN (or a negative
    "undefined" value) shows as "absent"."""
    rows = sorted(rows, key=lambda r: r[1] if r[1] >= 0 else -1.0)  # NaN compares False
    values = [r[1] if r[1] >= 0 else 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.35 * len(rows)), dpi=110)
    ax.barh([r[0] for r in rows], values, color="tab:blue")
    for i, (_, value) in enumerate(rows):
        text = f"{value:.3f}" if value >= 0 else "absent"
        ax.text(max(value, 0.0) + 0.01 if value >= 0 else 0.01, i, text, va="center", fontsize=8)
    ax.set(xlim=(0, 1.1), xlabel=metric, title=title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def precision_recall_figure(
    recall: np.ndarray, curves: list[tuple[str, np.ndarray]], title: str
) -> plt.Figure:
    """One precision-recall curve per class (`curves`: name, precision at each `recall`)."""
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for name, precision in curves:
        ap = float(np.mean(precision))
        ax.plot(recall, precision, linewidth=1.5, label=f"{name} (AP {ap:.3f})")
    if len(curves) > 1:
        mean = np.mean([p for _, p in curves], axis=0)
        ax.plot(recall, mean, color="black", linewidth=3, label=f"all (mAP {mean.mean():.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


MAX_CLASS_BARS = 20  # classes drawn by name in a per-class count panel; the rest are summed


def class_count_bars(ax: plt.Axes, counts: np.ndarray, class_names: list[str]) -> None:
    """Horizontal bars of `counts` per class, largest first: the top MAX_CLASS_BARS classes by
    name, and one bar for the rest."""
    order = np.argsort(-counts, kind="stable")
    shown = order[:MAX_CLASS_BARS]
    names = [class_names[i] for i in shown]
    values = [int(counts[i]) for i in shown]
    if len(order) > len(shown):
        names.append(f"{len(order) - len(shown)} other classes")
        values.append(int(counts[order[len(shown) :]].sum()))
    ax.barh(range(len(values)), values, color="tab:blue")
    ax.set_yticks(range(len(values)), names, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def label_statistics_figure(
    boxes: np.ndarray, labels: np.ndarray, objects_per_image: np.ndarray, class_names: list[str]
) -> plt.Figure:
    """Instances per class, objects per image, and box width vs height in pixels."""
    bars = min(len(class_names), MAX_CLASS_BARS + 1)
    fig, axes = plt.subplots(
        1, 3, figsize=(14, max(4.0, 1.2 + 0.2 * bars)), dpi=110, width_ratios=(1.2, 1, 1)
    )
    counts = np.bincount(labels, minlength=len(class_names))
    class_count_bars(axes[0], counts, class_names)
    axes[0].set(title=f"instances per class ({counts.sum()} boxes)", xlabel="boxes")
    axes[1].hist(
        objects_per_image,
        bins=np.arange(objects_per_image.max(initial=0) + 2) - 0.5,
        color="tab:orange",
    )
    axes[1].set(
        title=f"objects per image ({len(objects_per_image)} images)",
        xlabel="objects",
        ylabel="images",
    )
    for axis in (axes[1].xaxis, axes[1].yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    sizes = boxes[:, 2:] - boxes[:, :2]
    axes[2].scatter(
        sizes[:, 0], sizes[:, 1], s=6, alpha=0.5, c=labels % 10, cmap="tab10", vmin=0, vmax=9
    )
    axes[2].set(title="box sizes", xlabel="width (px)", ylabel="height (px)")
    for ax in axes[1:]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def display_image(image) -> np.ndarray:
    """A normalised `(3, H, W)` tensor as an `(H, W, 3)` float image in [0, 1]."""
    array = image.permute(1, 2, 0).float().numpy()
    return (array - array.min()) / max(array.max() - array.min(), 1e-6)


def detections_figure(images, preds, targets, class_names: list[str]):
    """Up to 8 images: ground truth in green, predictions in red with class and score.
    Images are min-max scaled for display."""
    n = len(images)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), dpi=110, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, pred, target in zip(axes.flat, images, preds, targets, strict=False):
        ax.imshow(display_image(image))
        for box in target["boxes"].tolist():
            ax.add_patch(_rectangle(box, "lime"))
        for box, label, score in zip(
            pred["boxes"].tolist(), pred["labels"].tolist(), pred["scores"].tolist(), strict=True
        ):
            ax.add_patch(_rectangle(box, "red"))
            ax.text(
                box[0],
                box[1],
                f"{class_names[label]} {score:.2f}",
                color="white",
                fontsize=7,
                bbox={"facecolor": "red", "alpha": 0.7, "pad": 1, "edgecolor": "none"},
            )
    fig.suptitle("ground truth (green) vs predictions (red)")
    fig.tight_layout()
    return fig


def _rectangle(box, colour):
    x0, y0, x1, y1 = box
    return plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5)


def class_colours(num_classes: int) -> np.ndarray:
    """A distinct RGB colour (uint8) per class."""
    cmap = plt.get_cmap("tab20" if num_classes <= 20 else "hsv", max(num_classes, 1))
    return (np.asarray([cmap(i)[:3] for i in range(num_classes)]) * 255).astype(np.uint8)


def colour_mask(mask: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Class ids `(H, W)` as RGB; ids outside the palette (ignored pixels) are black."""
    known = (mask >= 0) & (mask < len(colours))
    out = np.zeros((*mask.shape, 3), dtype=np.uint8)
    out[known] = colours[mask[known]]
    return out


def segmentation_figure(images, masks, preds, class_names: list[str]) -> plt.Figure:
    """One row per image: image | ground truth | prediction, with a class legend.
    Ignored pixels are black."""
    colours = class_colours(len(class_names))
    fig, axes = plt.subplots(
        len(images), 3, figsize=(9.6, 3.1 * len(images)), dpi=110, squeeze=False
    )
    for row, image, mask, pred in zip(axes, images, masks, preds, strict=True):
        row[0].imshow(display_image(image))
        row[1].imshow(colour_mask(mask.numpy(), colours), interpolation="nearest")
        row[2].imshow(colour_mask(pred.numpy(), colours), interpolation="nearest")
        for ax in row:
            ax.axis("off")
    for ax, title in zip(axes[0], ("image", "ground truth", "prediction"), strict=True):
        ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c / 255) for c in colours]
    fig.legend(handles, class_names, loc="lower center", ncol=min(len(class_names), 6), fontsize=8)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * (len(class_names) // 6), 1, 1))
    return fig
