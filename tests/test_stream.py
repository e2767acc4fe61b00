"""Streams (`data=stream`): written from every folder source, read back as the same items,
evaluated to the same metrics from a folder, a local stream and an S3 stream (a local
S3-compatible server), trained with the task the stream records, within a bounded cache,
without credentials in any file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from visionlab.cli.common import build_datamodule
from visionlab.cli.evaluate import evaluate
from visionlab.cli.train import train
from visionlab.data.shapes import CLASS_NAMES, write_segmentation
from visionlab.data.stream.location import StreamLocation
from visionlab.data.stream.write import write_stream
from visionlab.errors import ConfigError
from visionlab.utils.config import fill_preprocessing

from .conftest import (
    REPO,
    assert_same_outcome,
    evaluate_in_one_process,
    kill_and_resume,
    run_python,
)

SECRET = "visionlab-test-secret-7d1f"


def _folder_datamodule(make_cfg, task: str, data: str, root: Path, *extra: str):
    cfg = make_cfg(f"task={task}", f"data={data}", f"data.root={root}", *extra)
    fill_preprocessing(cfg)
    return cfg, build_datamodule(cfg.data, task)


def _stream_datamodule(cfg, task: str, uri: str, endpoint_url: str | None = None):
    data = OmegaConf.to_container(cfg.data, resolve=True)
    data |= {"source": "stream", "uri": uri, "endpoint_url": endpoint_url, "options": {}}
    return build_datamodule(data, task)


def _items(dataset) -> list:
    """Every item of a split, by index."""
    return [dataset[i] for i in range(len(dataset))]


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, torch.as_tensor(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture(scope="module")
def masks_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("masks")
    write_segmentation(root, {"train": 6, "val": 3}, image_size=48, seed=4)
    return root


SOURCES = [
    ("classify", "imagefolder"),
    ("classify", "csv"),
    ("detect", "coco"),
    ("detect", "voc"),
    ("detect", "yolo"),
    ("detect", "csv_boxes"),
    ("instance", "coco"),
    ("segment", "masks"),
]


@pytest.mark.parametrize(("task", "data"), SOURCES)
def test_a_stream_yields_the_folder_source_items(
    make_cfg, tmp_path, imagefolder_root, csv_root, detection_roots, masks_root, task, data
):
    """Every split is written; validation items (images, labels, boxes, masks) equal the
    folder dataset's exactly, and the stream serves the task it was written for."""
    roots = {"imagefolder": imagefolder_root, "csv": csv_root, "masks": masks_root}
    extra = [f"data.options.classes=[{','.join(CLASS_NAMES)}]"] if data == "masks" else []
    cfg, folder = _folder_datamodule(make_cfg, task, data, (roots | detection_roots)[data], *extra)
    meta = write_stream(folder, StreamLocation(str(tmp_path / "stream")))
    assert task in meta["tasks"] and meta["class_names"] == folder.class_names
    stream = _stream_datamodule(cfg, task, str(tmp_path / "stream"))
    folder.setup(), stream.setup()
    assert meta["splits"] == {s: len(d) for s, d in folder.datasets.items()}
    assert stream.report.splits == folder.report.splits
    assert _same(_items(stream.datasets["val"]), _items(folder.datasets["val"]))
    if task == "segment":
        assert all(torch.equal(a, b) for a, b in zip(
            stream.class_counts(), folder.class_counts(), strict=True
        ))  # fmt: skip


def test_a_stream_writer_worker_imports_no_lightning_timm_or_albumentations():
    """litdata starts each writer worker with spawn: what it imports, every split pays for."""
    code = (
        "import sys, visionlab.data.stream.format; "
        "print(sorted(m for m in ('lightning', 'timm', 'albumentations') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_training_images_are_written_in_a_mixed_order(make_cfg, tmp_path, imagefolder_root):
    """Each loader worker reads its own stretch of the stream, and a batch comes from one
    worker: written class by class (ImageFolder's order), batches would hold one class."""
    from litdata import StreamingDataset

    cfg, folder = _folder_datamodule(make_cfg, "classify", "imagefolder", imagefolder_root)
    write_stream(folder, StreamLocation(str(tmp_path / "stream")))
    stored = StreamingDataset(str(tmp_path / "stream/train"))
    labels = [stored[i]["label"] for i in range(len(stored))]
    assert sorted(labels) == sorted(s.label for s in folder.index.split("train"))
    changes = sum(a != b for a, b in zip(labels, labels[1:], strict=False))
    assert changes >= len(labels) // 2, f"written nearly in class order: {labels}"


def test_a_stream_of_another_task_is_refused(make_cfg, tmp_path, imagefolder_root):
    cfg, folder = _folder_datamodule(make_cfg, "classify", "imagefolder", imagefolder_root)
    write_stream(folder, StreamLocation(str(tmp_path / "stream")))
    from visionlab.errors import DataError

    detect = make_cfg("task=detect", run="detect")
    fill_preprocessing(detect)
    with pytest.raises(DataError, match="serves classify, not task=detect"):
        _ = _stream_datamodule(detect, "detect", str(tmp_path / "stream")).index
    with pytest.raises(DataError, match="not a visionlab stream"):
        _ = _stream_datamodule(cfg, "classify", str(tmp_path)).index


def test_write_command_and_training_with_the_task_the_stream_records(
    tmp_path, detection_roots, data_dir
):
    """`python -m visionlab.data.stream write`, then `train.py data=stream` with no task=."""
    out = tmp_path / "voc_stream"
    write = [
        sys.executable, "-m", "visionlab.data.stream", "write", "data=voc",
        f"data.root={detection_roots['voc']}", f"out={out}", f"hydra.run.dir={tmp_path / 'w'}",
    ]  # fmt: skip
    done = subprocess.run(write, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "serves detect" in done.stdout + done.stderr
    run = tmp_path / "run"
    train_cmd = [
        sys.executable, "train.py", "data=stream", f"data.uri={out}", "data.image_size=64",
        "data.batch_size=2", "data.num_workers=0", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "test=false", f"hydra.run.dir={run}",
        f"paths.data_dir={data_dir}", "extras.print_config=false",
    ]  # fmt: skip
    done = subprocess.run(train_cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    config = OmegaConf.load(run / "config.yaml")
    assert config.task.name == "detect" and (run / "checkpoints/best.ckpt").is_file()
    assert "Data check of voc" in done.stdout + done.stderr  # made when it was written


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A local S3-compatible server (moto) with one bucket; credentials only in the
    environment, as the AWS tools read them."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ |= {"AWS_ACCESS_KEY_ID": "visionlab-test-key", "AWS_SECRET_ACCESS_KEY": SECRET}
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="visionlab-streams")
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


CASES = {
    "classify": ("imagefolder", "val/acc", []),
    "detect": ("voc", "val/mAP50", ["model=yolov1", "data.image_size=64"]),
}


@pytest.mark.parametrize("task", CASES)
def test_one_checkpoint_evaluates_identically_from_folder_local_and_s3_streams(
    make_cfg, tmp_path, imagefolder_root, detection_roots, s3_endpoint, task
):
    data, key, extra = CASES[task]
    root = {"imagefolder": imagefolder_root, **detection_roots}[data]
    cfg = make_cfg(
        f"task={task}", f"data={data}", f"data.root={root}", *extra, "trainer.max_epochs=1",
        "test=false", "data.batch_size=4",
    )  # fmt: skip
    train(cfg)
    checkpoint = Path(cfg.paths.output_dir) / "checkpoints/best.ckpt"
    folder = build_datamodule(cfg.data, task)  # train() filled in the preprocessing
    local, remote = str(tmp_path / "stream"), f"s3://visionlab-streams/{task}"
    write_stream(folder, StreamLocation(local))
    write_stream(folder, StreamLocation(remote, s3_endpoint))

    cache = tmp_path / "cache"
    sources = {
        "folder": [],
        "local": ["data.source=stream", f"data.uri={local}"],
        "s3": ["data.source=stream", f"data.uri={remote}", f"data.endpoint_url={s3_endpoint}"],
    }
    results = {}
    for name, overrides in sources.items():
        eval_cfg = make_cfg(
            f"ckpt_path={checkpoint}", "split=val", "trainer.accelerator=cpu", *overrides,
            name="eval", run=f"eval_{name}",
        )  # fmt: skip
        if name == "s3":
            OmegaConf.update(eval_cfg, "data.cache_dir", str(cache), force_add=True)
        results[name] = evaluate(eval_cfg)
    assert results["local"][key] == pytest.approx(results["folder"][key], abs=1e-6)
    assert results["s3"][key] == pytest.approx(results["folder"][key], abs=1e-6)
    assert not _files_holding(tmp_path, SECRET), "the secret key was written to a file"


def test_training_from_s3_writes_no_credentials(make_cfg, tmp_path, imagefolder_root, s3_endpoint):
    """`train.py` from a bucket, credentials in the environment only: no file of the run
    folder (`.hydra/` included), the chunk cache or the checkpoints holds them."""
    cfg, folder = _folder_datamodule(make_cfg, "classify", "imagefolder", imagefolder_root)
    uri = "s3://visionlab-streams/train-from-s3"
    write_stream(folder, StreamLocation(uri, s3_endpoint))
    run_dir = tmp_path / "run"
    run_python(
        "train.py", "data=stream", f"data.uri={uri}", f"data.endpoint_url={s3_endpoint}",
        f"data.cache_dir={tmp_path / 'cache'}", "data.image_size=64", "data.num_workers=0",
        "trainer.max_epochs=1", "test=false", "extras.print_config=false",
        f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    assert (run_dir / "checkpoints/best.ckpt").is_file() and (run_dir / ".hydra").is_dir()
    assert any((tmp_path / "cache").rglob("*.bin")), "the chunks went through the cache"
    assert not _files_holding(tmp_path, SECRET), "the secret key was written to a file"
    assert not _files_holding(tmp_path, "visionlab-test-key")


def test_the_chunk_cache_stays_under_its_limit(make_cfg, tmp_path, s3_endpoint):
    """A bucket stream several times larger than `data.cache_limit` goes through a whole
    epoch while the local cache never holds more than the limit (a local folder stream is
    read in place, without a cache)."""
    import boto3

    from visionlab.data.shapes import write_classification

    root = tmp_path / "big"
    write_classification(root, {"train": 60, "val": 8}, image_size=160, seed=5)
    cfg, folder = _folder_datamodule(make_cfg, "classify", "imagefolder", root)
    uri = "s3://visionlab-streams/big"
    write_stream(folder, StreamLocation(uri, s3_endpoint), chunk_bytes="200KB")
    objects = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket="visionlab-streams", Prefix="big/train/"
    )["Contents"]
    written = sum(o["Size"] for o in objects if o["Key"].endswith(".bin"))
    limit = 600_000
    assert written > 3 * limit, "the stream must be several times the cache limit"
    stream = _stream_datamodule(cfg, "classify", uri, s3_endpoint)
    stream.cache_limit, stream.cache_dir = limit, str(tmp_path / "cache")
    stream.num_workers, stream.seed = 0, 0
    stream.setup()
    peak, count = 0, 0
    for images, _ in stream.train_dataloader():
        count += len(images)
        chunks = [p for p in (tmp_path / "cache").rglob("*.bin") if p.is_file()]
        peak = max(peak, sum(p.stat().st_size for p in chunks))
    assert count == 60 and 0 < peak <= limit


@pytest.fixture(scope="module")
def shapes_stream(tmp_path_factory) -> Path:
    """A local stream of 96 training and 21 validation shapes images (ImageFolder)."""
    from hydra.core.global_hydra import GlobalHydra

    from visionlab.data.shapes import write_classification
    from visionlab.utils.config import compose_config

    root = tmp_path_factory.mktemp("shapes_folder")
    write_classification(root, {"train": 96, "val": 21}, image_size=64, seed=6)
    base = tmp_path_factory.mktemp("shapes_stream")
    cfg = compose_config("train", ["data=imagefolder", f"data.root={root}"], base / "run", REPO)
    GlobalHydra.instance().clear()
    fill_preprocessing(cfg)
    write_stream(build_datamodule(cfg.data, "classify"), StreamLocation(str(base / "stream")))
    return base / "stream"


def _stream_train(stream: Path, *overrides: str) -> list[str]:
    return [
        "data=stream", f"data.uri={stream}", "data.image_size=64", "data.batch_size=8",
        "data.num_workers=2", "extras.print_config=false", "test=false",
        "trainer.deterministic=true", *overrides,
    ]  # fmt: skip


def test_a_killed_stream_run_resumes_to_the_same_result(tmp_path, shapes_stream):
    """SIGKILL in the second epoch, resume: the stream's shuffle for that epoch comes back
    from the training epoch, so the run ends with the straight run's weights and metrics."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    overrides = _stream_train(shapes_stream, "trainer.max_epochs=3")
    run_python("train.py", f"hydra.run.dir={straight}", *overrides)
    kill_and_resume(overrides, killed)
    assert_same_outcome(straight, killed)


def test_ddp_evaluation_of_a_stream_counts_every_image_once(tmp_path, shapes_stream):
    """21 validation images over 2 ranks (uneven shards): the DDP run's val/acc equals a
    single process's on the same checkpoint."""
    import json

    run_dir = tmp_path / "ddp"
    run_python("train.py", f"hydra.run.dir={run_dir}", *_stream_train(
        shapes_stream, "trainer=ddp_sim", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "trainer.deterministic=false",
    ))  # fmt: skip
    ddp = json.loads((run_dir / "results.json").read_text())
    single = evaluate_in_one_process(ddp["best_checkpoint"], tmp_path / "single")
    assert ddp["metrics"]["val/acc"] == pytest.approx(single["val/acc"], abs=1e-6)


def test_a_stream_mixes_batches_but_refuses_the_balanced_sampler(make_cfg, shapes_stream):
    cfg = make_cfg("data=stream", f"data.uri={shapes_stream}", "data.mix=mixup")
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, "classify")
    datamodule.setup()
    labels = next(iter(datamodule.train_dataloader()))[1]
    assert labels.shape[1] == datamodule.num_classes and labels.is_floating_point()
    cfg = make_cfg("data=stream", f"data.uri={shapes_stream}", "data.sampler=balanced")
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, "classify")
    datamodule.setup()
    with pytest.raises(ConfigError, match="data.sampler=balanced: a stream is read chunk"):
        datamodule.train_dataloader()


def test_a_stream_refuses_mosaic_with_a_reason(make_cfg, tmp_path, detection_roots):
    cfg, folder = _folder_datamodule(
        make_cfg, "detect", "voc", detection_roots["voc"], "data.image_size=64"
    )
    write_stream(folder, StreamLocation(str(tmp_path / "s")))
    stream = _stream_datamodule(cfg, "detect", str(tmp_path / "s"))
    stream.mosaic = 0.5
    stream.setup()
    with pytest.raises(ConfigError, match="data.mosaic=0.5: a stream is read chunk by chunk"):
        stream.train_dataloader()
