"""End-to-end runs on the embedded shapes data: train, evaluate, predict, fine-tuning."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.conftest import FAST_MASK_RCNN, model_configs
from visionlab import load_model
from visionlab.cli.evaluate import evaluate
from visionlab.cli.predict import predict
from visionlab.cli.train import train
from visionlab.errors import WeightsError
from visionlab.models.classifier import Classifier

CLASSIFY_MODELS = model_configs("classify")


@pytest.mark.parametrize("model", CLASSIFY_MODELS)
def test_fast_dev_run(make_cfg, model):
    pretrained = "true" if model == "efficientnet_lite0" else "false"
    train(make_cfg("debug=fdr", f"model={model}", f"model.backbone.pretrained={pretrained}"))


def test_overfit_one_batch(make_cfg):
    cfg = make_cfg(
        "debug=overfit",
        "task.label_smoothing=0",
        "task.scheduler.name=none",
        "data.batch_size=8",
        "model.drop_rate=0",
        "test=false",
    )
    train(cfg)
    with open(Path(cfg.paths.output_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train/loss_epoch"]) for r in rows if r.get("train/loss_epoch")]
    assert losses[-1] < 0.05, losses[-5:]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_dir):
    """A 2-epoch shapes run; returns its run folder."""
    from tests.conftest import FAST, REPO
    from visionlab.utils.config import compose_config

    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cfg = compose_config("train", [*FAST, "trainer.max_epochs=2"], run_dir, REPO, data_dir)
    train(cfg)
    return run_dir


def test_run_folder_contents(trained_run):
    for name in ("config.yaml", "run.json", "metrics.csv", "results.json", "hparams.yaml"):
        assert (trained_run / name).is_file(), name
    for name in (
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "plots/confusion_matrix_val.png",
    ):
        assert (trained_run / name).is_file(), name
    meta = json.loads((trained_run / "run.json").read_text())
    assert meta["packages"]["torch"] and meta["run_id"]


def test_checkpoint_is_weights_only(trained_run):
    checkpoint = torch.load(trained_run / "checkpoints/best.ckpt", weights_only=True)
    assert checkpoint["visionlab"]["task"] == "classify"
    assert checkpoint["visionlab"]["config"]["data"]["image_size"] == 64
    task = load_model(trained_run / "checkpoints/best.ckpt")
    assert not task.training and task.hparams.class_names == ["circle", "square", "triangle"]


def test_evaluate_reproduces_val_acc(trained_run, make_cfg):
    results = json.loads((trained_run / "results.json").read_text())["metrics"]
    checkpoint = torch.load(trained_run / "checkpoints/best.ckpt", weights_only=True)
    callback = next(v for k, v in checkpoint["callbacks"].items() if "ModelCheckpoint" in k)
    assert results["val/acc"] == pytest.approx(float(callback["best_model_score"]), abs=1e-4)

    cfg = make_cfg(f"ckpt_path={trained_run / 'checkpoints/best.ckpt'}", name="eval", run="eval")
    evaluated = evaluate(cfg)
    assert evaluated["val/acc"] == pytest.approx(results["val/acc"], abs=1e-4)
    assert evaluated["test/acc"] == pytest.approx(results["test/acc"], abs=1e-4)
    limited = make_cfg(f"ckpt_path={cfg.ckpt_path}", "model.nms_iou=0.6", name="eval", run="nms")
    with pytest.raises(WeightsError, match="classify checkpoint: model.nms_iou applies to detect"):
        evaluate(limited)


def test_predict_from_checkpoint_alone(trained_run, make_cfg, imagefolder_root):
    cfg = make_cfg(
        f"ckpt_path={trained_run / 'checkpoints/best.ckpt'}",
        f"input={imagefolder_root / 'val'}",
        "topk=2",
        name="predict",
        run="predict",
    )
    out = predict(cfg)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6
    assert list(rows[0]) == ["file", "class_1", "prob_1", "class_2", "prob_2"]
    assert all(float(r["prob_1"]) >= float(r["prob_2"]) for r in rows)
    assert {r["class_1"] for r in rows} <= {"circle", "square", "triangle"}


def _backbone(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    prefix = "model.backbone."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def pretrained_backbone() -> dict[str, torch.Tensor]:
    model = Classifier(3, {"name": "tf_efficientnet_lite0", "pretrained": True})
    return model.backbone.state_dict()


def test_frozen_keeps_backbone_weights_and_bn_stats(make_cfg, pretrained_backbone):
    cfg = make_cfg("finetune=frozen", "trainer.max_epochs=1", "test=false")
    train(cfg)
    trained = _backbone(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt")
    assert any("running_mean" in k for k in trained)
    for key, value in pretrained_backbone.items():
        assert torch.equal(value, trained[key]), f"{key} changed under finetune=frozen"


def test_frozen_norm_trains_the_backbone_but_keeps_its_bn_stats(make_cfg, pretrained_backbone):
    cfg = make_cfg("finetune.norm=frozen", "trainer.max_epochs=1", "test=false")
    train(cfg)
    trained = _backbone(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt")
    stats = [k for k in trained if k.endswith(("running_mean", "running_var"))]
    assert stats
    for key in stats:
        assert torch.equal(pretrained_backbone[key], trained[key]), f"{key} changed"
    weights = [k for k in trained if k.endswith("weight")]
    assert any(not torch.equal(pretrained_backbone[k], trained[k]) for k in weights)


def test_unfreeze_at_survives_resume(make_cfg, pretrained_backbone):
    frozen_phase = make_cfg(
        "finetune=unfreeze_at", "finetune.unfreeze_epoch=1", "trainer.max_epochs=1", "test=false"
    )
    train(frozen_phase)
    last = Path(frozen_phase.paths.output_dir) / "checkpoints/last.ckpt"
    after_epoch0 = _backbone(last)
    assert all(torch.equal(v, after_epoch0[k]) for k, v in pretrained_backbone.items())

    resumed = make_cfg(
        "finetune=unfreeze_at",
        "finetune.unfreeze_epoch=1",
        "trainer.max_epochs=2",
        "test=false",
        f"ckpt_path={last}",
        run="resumed",
    )
    train(resumed)
    checkpoint = Path(resumed.paths.output_dir) / "checkpoints/last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    after_epoch1 = _backbone(checkpoint)
    changed = [k for k, v in after_epoch0.items() if not torch.equal(v, after_epoch1[k])]
    assert any(k.endswith("weight") for k in changed), "backbone did not train after unfreezing"


class WeightsAtStart(L.Callback):
    """Keeps a copy of the network's weights as training starts."""

    def on_train_start(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


@pytest.mark.parametrize("task, model", [("detect", "faster_rcnn"), ("instance", "mask_rcnn")])
def test_unfreeze_at_trains_the_fpn_but_not_the_timm_body(make_cfg, task, model):
    """During the frozen epochs only the pretrained body (`frozen_part`) is held still."""
    start = WeightsAtStart()
    cfg = make_cfg(
        f"task={task}", f"model={model}", *FAST_MASK_RCNN, "++data.options.image_size=96",
        "finetune=unfreeze_at", "finetune.unfreeze_epoch=1", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "test=false",
    )  # fmt: skip
    train(cfg, callbacks=[start])
    saved = torch.load(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt", weights_only=True)
    after = {k.removeprefix("model."): v for k, v in saved["state_dict"].items()}
    body = [k for k in start.state if k.startswith("backbone.body.")]
    fpn = [k for k in start.state if k.startswith("backbone.fpn.") and k.endswith("weight")]
    assert body and fpn
    assert all(torch.equal(start.state[k], after[k]) for k in body), "the timm body changed"
    assert all(not torch.equal(start.state[k], after[k]) for k in fpn), "the FPN did not train"


def test_wandb_offline_run_without_api_key(make_cfg, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent")
    cfg = make_cfg("logger=wandb", "debug=limit", "trainer.max_epochs=1", "test=false")
    train(cfg)
    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and runs[0].name.endswith(cfg.run_id)
    assert list(runs[0].glob("*.wandb"))


@pytest.mark.parametrize("scheduler", ["onecycle", "plateau", "none"])
def test_schedulers_and_sgd_run(make_cfg, scheduler):
    train(make_cfg("debug=fdr", f"task.scheduler.name={scheduler}", "task.optimizer.name=sgd"))


def test_top5_accuracy_with_five_or_more_classes():
    from visionlab.tasks import ClassificationTask

    common = dict(
        model={"arch": "classifier", "backbone": {"name": "resnet18"}},
        optimizer={"name": "adamw", "lr": 1e-3},
        scheduler={"name": "none"},
        finetune={},
    )
    six = ClassificationTask(num_classes=6, class_names=list("abcdef"), **common)
    three = ClassificationTask(num_classes=3, class_names=list("abc"), **common)
    assert set(six.val_metrics.keys()) == {"val/acc", "val/acc_top5", "val/f1_macro"}
    assert set(three.val_metrics.keys()) == {"val/acc", "val/f1_macro"}
    logits = torch.tensor([[1.0, 2.0, 0.0, 0.0, 0.0, 0.0]]).repeat(4, 1)  # class 0 ranked second
    six.val_metrics.update(logits, torch.zeros(4, dtype=torch.int64))
    values = six.val_metrics.compute()
    assert values["val/acc_top5"] == 1.0 and values["val/acc"] == 0.0


def test_training_curves_plot_quality_metrics_not_throughput(tmp_path):
    from visionlab.utils.plots import training_curves_figure

    rows = ["epoch,train/loss_epoch,val/loss,val/acc,val/img_per_s,train/img_per_s"]
    rows += [f"{e},{1 - e / 10},{1 - e / 20},{0.5 + e / 10},{200 + e},{50 + e}" for e in range(3)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    fig = training_curves_figure(tmp_path / "metrics.csv")
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert labels == ["val/acc"]
