"""The LightningModule base shared by every task: one `model_step`, optimizers, fine-tuning
strategies, best-metric tracking and checkpoint metadata."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MinMetric

from visionlab.errors import ConfigError, TrainingError
from visionlab.losses import resolve_class_weights
from visionlab.models import build_model
from visionlab.tasks.optim import (
    build_optimizer,
    build_scheduler,
    parameter_groups,
    scaled_lr,
)

log = logging.getLogger(__name__)
FINETUNE_STRATEGIES = ("full", "frozen", "unfreeze_at")
NORM_MODES = ("train", "frozen")  # finetune.norm: the backbone's BatchNorm statistics
NONFINITE_ACTIONS = ("stop", "skip")
MODES = ("min", "max")


def check_resolved(class_weights: Any) -> None:
    if isinstance(class_weights, str):
        raise ConfigError(
            f"task.loss.class_weights={class_weights!r} must be resolved from the data first "
            "(build the task with visionlab.cli.common.build_task)"
        )


class VisionTask(L.LightningModule):
    """Subclasses implement `model_step(batch) -> (loss, preds, targets)` and the metrics.

    All constructor arguments are plain values, so checkpoints load with
    `torch.load(weights_only=True)` and `visionlab.load_model` rebuilds the network from them.
    """

    name = ""

    def __init__(
        self,
        model: dict,
        num_classes: int,
        class_names: list[str],
        optimizer: dict,
        scheduler: dict,
        finetune: dict,
        monitor: str = "val/loss",
        mode: str = "min",
        nonfinite_loss: str = "stop",
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"task.mode must be 'min' or 'max', got {mode!r}")
        if nonfinite_loss not in NONFINITE_ACTIONS:
            raise ConfigError(
                f"task.nonfinite_loss={nonfinite_loss!r}; choose one of {NONFINITE_ACTIONS}"
            )
        self.nonfinite_loss = nonfinite_loss
        self.model = build_model(model, num_classes)
        self.memory_format = (
            torch.channels_last if model.get("channels_last") else torch.contiguous_format
        )
        self.model.to(memory_format=self.memory_format)
        if model.get("compile"):
            self.model.compile()  # in place: parameter names, and so checkpoints, are unchanged
        self.monitor, self.mode = monitor, mode
        self.best_metric = MaxMetric() if mode == "max" else MinMetric()
        self.finetune = {
            "strategy": "full",
            "unfreeze_epoch": 0,
            "backbone_lr_mult": 1.0,
            "norm": "train",
            **finetune,
        }
        for key, options in (("strategy", FINETUNE_STRATEGIES), ("norm", NORM_MODES)):
            if self.finetune[key] not in options:
                raise ConfigError(
                    f"finetune.{key}={self.finetune[key]!r}; choose one of {', '.join(options)}"
                )
        if self.finetune["strategy"] == "frozen":
            self.model.set_backbone_frozen(True, freeze_weights=True)
        elif self.finetune["norm"] == "frozen":
            self.model.set_backbone_frozen(True)
        self.run_config: dict[str, Any] = {}
        self.computed: dict[str, dict] = {}  # what each stage's metrics computed, for reports
        self.eval_means = torch.nn.ModuleDict()  # evaluation losses, one MeanMetric each

    @classmethod
    def resolve_args(cls, task_args: dict, datamodule: Any) -> dict:
        """The constructor arguments, with any that depend on the data computed from it:
        `loss.class_weights` given by name becomes one weight per class."""
        loss = task_args.get("loss")
        if not loss or loss.get("class_weights") is None:
            return task_args
        weights = resolve_class_weights(loss["class_weights"], *datamodule.class_counts())
        return {**task_args, "loss": {**loss, "class_weights": weights}}

    def forward(self, images: torch.Tensor) -> Any:
        return self.model(images.contiguous(memory_format=self.memory_format))

    def probe_loss(self, model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        """A scalar of `model`'s training output on `batch` (on `device`), whose backward
        takes the memory a training step takes (`data.batch_size=auto`)."""
        return model(batch[0].to(device)).float().mean()

    # --- steps -------------------------------------------------------------------------
    def model_step(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        raise NotImplementedError

    def shared_step(self, stage: str, batch: Any) -> tuple[torch.Tensor, Any]:
        """`model_step`, then the stage's metrics and `<stage>/loss`; returns (loss, preds)."""
        loss, preds, targets = self.model_step(batch)
        self.update_metrics(stage, preds, targets)
        batch_size, training = len(batch[0]), stage == "train"
        self.log_mean(f"{stage}/loss", loss, batch_size, on_step=training, prog_bar=stage != "test")
        return loss, preds

    def log_mean(
        self, name: str, value: torch.Tensor, batch_size: int, on_step=False, prog_bar=False
    ) -> None:
        """Log `<stage>/...` as its mean over the epoch's images. An evaluation mean is a
        metric, so that under DDP every image weighs the same whatever its rank's share
        (Lightning's `sync_dist` averages the ranks' means)."""
        if name.startswith("train/"):
            self.log(
                name,
                value,
                on_step=on_step,
                on_epoch=True,
                prog_bar=prog_bar,
                batch_size=batch_size,
            )
            return
        key = name.replace("/", "_")
        if key not in self.eval_means:
            self.eval_means[key] = MeanMetric(nan_strategy="disable").to(self.device)
        # one entry per image: MeanMetric ignores `weight` when its NaN checks are disabled
        self.eval_means[key].update(value.detach().expand(batch_size))
        metric = f"eval_means.{key}"  # created here, after Lightning listed the metrics
        self.log(
            name, self.eval_means[key], on_epoch=True, prog_bar=prog_bar, metric_attribute=metric
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        loss = self.shared_step("train", batch)[0]
        # every DDP rank takes the same decision, so none waits for the others' gradients
        finite = self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(loss)))
        if finite:
            return loss
        where = f"step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
        if self.nonfinite_loss == "skip":
            log.warning("Non-finite training loss at %s: batch skipped", where)
            return None
        raise TrainingError(
            f"the training loss is {loss.item()} at {where}; training stopped before the "
            f"weights took the step. Last good checkpoint: {self._newest_checkpoint()}. Try a "
            "lower task.optimizer.lr, trainer.gradient_clip_val=1.0, or "
            "task.nonfinite_loss=skip to skip such batches"
        )

    def _newest_checkpoint(self) -> str:
        saved = [
            Path(callback.best_model_path)
            for callback in self.trainer.checkpoint_callbacks
            if callback.best_model_path and Path(callback.best_model_path).is_file()
        ]
        return str(max(saved, key=lambda p: p.stat().st_mtime)) if saved else "none yet"

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.shared_step("val", batch)[1]

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.shared_step("test", batch)

    def update_metrics(self, stage: str, preds: Any, targets: Any) -> None:
        """Update (and log) the stage's metric objects."""

    # --- best-so-far tracking ---------------------------------------------------------------
    def on_train_start(self) -> None:
        self.best_metric.reset()
        self.reset_metrics("val")

    def reset_metrics(self, stage: str) -> None:
        """Forget what the sanity check accumulated."""

    def track_best(self, value: torch.Tensor) -> None:
        """Log `<monitor>_best`; an undefined (NaN) value is never the best."""
        if self.trainer.sanity_checking or self.trainer.state.fn != "fit" or value.isnan():
            return
        self.best_metric(value)
        self.log(f"{self.monitor}_best", self.best_metric.compute(), sync_dist=True)

    # --- fine-tuning strategies ---------------------------------------------------------------
    @property
    def backbone_frozen_now(self) -> bool:
        strategy = self.finetune["strategy"]
        if strategy == "frozen":
            return True
        return strategy == "unfreeze_at" and self.current_epoch < self.finetune["unfreeze_epoch"]

    def on_train_epoch_start(self) -> None:
        if self.finetune["strategy"] == "unfreeze_at":
            norm_frozen = self.finetune["norm"] == "frozen"
            self.model.set_backbone_frozen(self.backbone_frozen_now or norm_frozen)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """While `unfreeze_at` keeps the backbone frozen, its parameters (the model's
        `frozen_part`, as for `frozen`) skip the step.

        Their gradients are still computed, so DDP sees the same parameters every step.
        """
        if self.finetune["strategy"] == "unfreeze_at" and self.backbone_frozen_now:
            for param in self.model.frozen_part.parameters():
                param.grad = None

    # --- optimisation ---------------------------------------------------------------------------
    def configure_optimizers(self) -> dict:
        opt_cfg = dict(self.hparams.optimizer)
        groups = parameter_groups(
            self.model,
            lr=self.scaled_lr(opt_cfg.pop("lr")),
            weight_decay=opt_cfg.pop("weight_decay", 0.0),
            backbone_lr_mult=self.finetune["backbone_lr_mult"],
        )
        optimizer = build_optimizer(groups, **opt_cfg)
        scheduler = build_scheduler(
            optimizer,
            total_steps=self.trainer.estimated_stepping_batches,
            max_epochs=self.trainer.max_epochs,
            monitor=self.monitor,
            mode=self.mode,
            **self.hparams.scheduler,
        )
        return {"optimizer": optimizer, **({"lr_scheduler": scheduler} if scheduler else {})}

    def scaled_lr(self, lr: float) -> float:
        """`lr` scaled from `task.optimizer.reference_batch` (one process's batch when null)
        to the global batch: processes x batch x gradient accumulation."""
        opt_cfg, trainer = self.hparams.optimizer, self.trainer
        batch = getattr(trainer.datamodule, "batch_size", None)
        if batch is None:  # data given as loaders: nothing to scale from
            return lr
        global_batch = batch * trainer.world_size * trainer.accumulate_grad_batches
        reference = opt_cfg.get("reference_batch") or batch
        rule = opt_cfg.get("scale_lr", "none")
        scaled = scaled_lr(lr, rule, global_batch, reference)
        if scaled != lr:
            log.info(
                "Learning rate %.3g for a batch of %d -> %.3g for the global batch of %d (%s)",
                lr, reference, scaled, global_batch, rule,
            )  # fmt: skip
        return scaled

    # --- checkpoints and outputs ---------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from visionlab import __version__

        for name, tensor in checkpoint["state_dict"].items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise TrainingError(
                    f"refusing to write a checkpoint at step {self.global_step}: weight '{name}' "
                    "is not finite (the checkpoints on disk are left as they were)"
                )
        checkpoint["visionlab"] = {
            "task": self.name,
            "version": __version__,
            "config": self.run_config,
        }
