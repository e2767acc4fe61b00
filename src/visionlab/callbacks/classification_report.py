"""Classification reports: the confusion matrix and per-class precision and recall."""

from __future__ import annotations

from visionlab.callbacks.report import TaskReport
from visionlab.tasks.classification import ClassificationTask
from visionlab.utils.loggers import save_and_log_table
from visionlab.utils.plots import confusion_matrix_figure, save_and_log_figure


class ClassificationReport(TaskReport):
    """`plots/confusion_matrix_<stage>.png` and `per_class_<stage>.csv` (also a W&B table)."""

    task_type = ClassificationTask

    def report(self, trainer, pl_module, stage: str, computed: dict) -> None:
        matrix, names = computed["confusion"], pl_module.hparams.class_names
        fig = confusion_matrix_figure(
            matrix, names, f"{stage} confusion matrix, epoch {trainer.current_epoch}"
        )
        plots = self.plots_dir(trainer)
        save_and_log_figure(
            fig,
            plots / f"confusion_matrix_{stage}.png",
            f"{stage}/confusion_matrix",
            trainer.loggers,
            trainer.global_step,
        )
        support, predicted, correct = matrix.sum(1), matrix.sum(0), matrix.diagonal()
        rows = [
            [name, round(c / p, 4) if p else None, round(c / n, 4) if n else None, int(n)]
            for name, c, p, n in zip(names, correct, predicted, support, strict=True)
        ]
        save_and_log_table(
            plots.parent / f"per_class_{stage}.csv",
            f"{stage}/per_class",
            ["class", "precision", "recall", "images"],
            rows,
            trainer.loggers,
        )
