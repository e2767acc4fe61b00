"""Comparing the runs of a Hydra multirun: one table (Markdown + CSV), its mean over seeds
when `seed` is swept, and a plot of the monitored metric against each swept value.
`scripts/compare_runs.py` runs it on a folder; `CompareRunsCallback` runs it when a multirun
ends."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import yaml
from hydra.experimental.callback import Callback

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _metric_history(path: Path) -> dict[str, list[float]]:
    """Every non-empty value of each column of a Lightning metrics.csv, in order."""
    history: dict[str, list[float]] = {}
    if not path.is_file():
        return history
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            for key, value in row.items():
                if value not in ("", None):
                    history.setdefault(key, []).append(float(value))
    return history


def _mean(values: list[float]) -> float | None:
    """The mean, leaving out the first epoch (warm-up) when there are more."""
    values = values[1:] if len(values) > 1 else values
    return sum(values) / len(values) if values else None


def collect_run(job_dir: Path) -> dict:
    """One run of a multirun: its overrides, status, metrics, parameters and throughput."""
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    config = (
        yaml.safe_load((job_dir / "config.yaml").read_text())
        if (job_dir / "config.yaml").is_file()
        else {}
    )
    task = (config or {}).get("task", {})
    monitor, mode = task.get("monitor"), task.get("mode", "max")
    results, failed = _read_json(job_dir / "results.json"), _read_json(job_dir / "failed.json")
    history = _metric_history(job_dir / "metrics.csv")
    values = [v for v in history.get(monitor, []) if not math.isnan(v)]
    best = (max if mode == "max" else min)(values) if values else None
    if results:  # metrics.csv ends with the best checkpoint validated again
        final = results.get("last_epoch", {}).get(monitor)
    else:  # an unfinished run: its last logged epoch
        final = history[monitor][-1] if history.get(monitor) else None
    status = "failed" if failed else "done" if results else "incomplete"
    return {
        "run": job_dir.name,
        "overrides": {k: v for k, _, v in (o.partition("=") for o in overrides)},
        "status": status,
        "error": failed.get("error", ""),
        "monitor": monitor,
        "final": final,
        "best": best,
        "params": results.get("params"),
        "train_img_per_s": _mean(history.get("train/img_per_s", [])),
        "eval_img_per_s": _mean(history.get("val/img_per_s", [])),
    }


def collect_runs(sweep_dir: Path) -> list[dict]:
    jobs = [p.parent.parent for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")]
    jobs.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else p.name))
    return [collect_run(job) for job in jobs]


def _format(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str) and len(value) > 8:  # a long sampled number: 4 digits suffice
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(runs: list[dict], swept: list[str]) -> tuple[list[str], list[list]]:
    monitor = next((r["monitor"] for r in runs if r["monitor"]), "metric")
    header = ["run", *swept, "status", f"best {monitor}", f"final {monitor}"]
    header += ["params", "train img/s", "eval img/s"]
    rows = [
        [
            r["run"],
            *(r["overrides"].get(key) for key in swept),
            r["status"] + (f": {r['error']}" if r["error"] else ""),
            r["best"],
            r["final"],
            r["params"],
            r["train_img_per_s"],
            r["eval_img_per_s"],
        ]
        for r in runs
    ]
    return header, rows


def _seed_means(runs: list[dict], swept: list[str]) -> tuple[list[str], list[list]]:
    """The finished runs grouped by every swept value but `seed`: the seeds, the mean best
    value with its range, and the mean final value."""
    keys = [key for key in swept if key != "seed"]
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        if run["best"] is not None:
            groups.setdefault(tuple(run["overrides"].get(k) for k in keys), []).append(run)
    monitor = next((r["monitor"] for r in runs if r["monitor"]), "metric")
    header = [*keys, "seeds", f"mean best {monitor}", "range", f"mean final {monitor}"]
    rows = []
    for values, group in groups.items():
        best = [r["best"] for r in group]
        final = [r["final"] for r in group if r["final"] is not None and not math.isnan(r["final"])]
        rows.append([
            *values,
            " ".join(str(r["overrides"]["seed"]) for r in group),
            sum(best) / len(best),
            f"{min(best):.4g}–{max(best):.4g}",
            sum(final) / len(final) if len(final) == len(group) else None,
        ])  # fmt: skip
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _markdown(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(_format(v) for v in row) + " |" for row in rows]


def _plot(runs: list[dict], swept: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    done = [r for r in runs if r["best"] is not None]
    if not done or not swept:
        return
    fig, axes = plt.subplots(1, len(swept), figsize=(4.2 * len(swept), 3.6), squeeze=False)
    for ax, key in zip(axes[0], swept, strict=True):
        labels = [r["overrides"].get(key, "") for r in done]
        try:
            xs = [float(x) for x in labels]
            ax.scatter(xs, [r["best"] for r in done], s=36, color="tab:blue", zorder=3)
            if min(xs) > 0 and max(xs) / min(xs) >= 10:
                ax.set_xscale("log")
            ticks = dict(sorted(zip(xs, labels, strict=True)))  # the swept values, as given
            ax.set_xticks(list(ticks), list(ticks.values()), rotation=20, ha="right")
            ax.xaxis.set_minor_formatter(NullFormatter())
        except ValueError:  # categorical values
            order = sorted(set(labels))
            ax.scatter([order.index(x) for x in labels], [r["best"] for r in done], s=36, zorder=3)
            ax.set_xticks(range(len(order)), order, rotation=20, ha="right")
        ax.set_xlabel(key)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"best {done[0]['monitor']}")
    fig.suptitle(f"{len(done)} of {len(runs)} runs", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_comparison(sweep_dir: str | Path) -> Path | None:
    """Write `comparison.md`, `comparison.csv` and `comparison.png` into `sweep_dir`, and
    `comparison_seeds.csv` (also in the Markdown) when the seed is swept; return the Markdown
    file (None when the folder holds no runs)."""
    sweep_dir = Path(sweep_dir)
    runs = collect_runs(sweep_dir)
    if not runs:
        return None
    keys = list(dict.fromkeys(k for r in runs for k in r["overrides"]))
    swept = [k for k in keys if len({r["overrides"].get(k) for r in runs}) > 1] or keys
    header, rows = _table(runs, swept)
    _write_csv(sweep_dir / "comparison.csv", header, rows)
    lines = _markdown(header, rows)
    if "seed" in swept:
        header, rows = _seed_means(runs, swept)
        _write_csv(sweep_dir / "comparison_seeds.csv", header, rows)
        lines += ["", "Mean over seeds (finished runs):", "", *_markdown(header, rows)]
    markdown = sweep_dir / "comparison.md"
    markdown.write_text("\n".join(lines) + "\n")
    _plot(runs, swept, sweep_dir / "comparison.png")
    return markdown


class CompareRunsCallback(Callback):
    """Writes the comparison of a multirun's jobs into its sweep folder when it ends."""

    def on_multirun_end(self, config, **kwargs) -> None:
        markdown = write_comparison(config.hydra.sweep.dir)
        if markdown is not None:
            log.info("Run comparison:\n%s", markdown.read_text())
            log.info("Written to %s (and .csv, .png)", markdown)
