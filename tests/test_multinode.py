"""Past one machine, on this one: two torchrun "nodes" of one gloo process each, and two
processes with the environment `srun` gives its tasks, run the same code as a cluster. Their
evaluation equals one process's; a 2-node training run finishes; a task count that does not
fit the trainer is refused in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FAST, REPO, evaluate_in_one_process, train_in_one_process

TWO_NODES = [
    "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=1", "trainer.num_nodes=2",
    "trainer.sync_batchnorm=false",
]  # fmt: skip
CASES = {
    "classify": ("val/acc", []),
    "detect": ("val/mAP50", ["task=detect", "model=yolov1"]),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _processes(commands: list[list[str]], envs: list[dict], timeout: int = 600) -> None:
    """Start the processes together (they wait for each other) and check they all succeed."""
    running = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **env},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for command, env in zip(commands, envs, strict=True)
    ]
    try:
        for process in running:
            stdout, stderr = process.communicate(timeout=timeout)
            _check(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    finally:
        for process in running:
            process.kill()


def _torchrun_nodes(*args: str) -> None:
    """`torchrun --nnodes 2 --nproc_per_node 1 --node_rank {0,1}`, both nodes on this host."""
    port = _free_port()
    commands = [
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--nproc_per_node",
            "1",
            "--node_rank",
            str(rank),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            *args,
        ]  # fmt: skip
        for rank in (0, 1)
    ]
    _processes(commands, [{}, {}])


def _slurm_tasks(*args: str, tasks: int = 2, nodes: int = 2) -> None:
    """The processes `srun` starts for `--nodes=2 --ntasks-per-node=1`: each with its rank."""
    common = {
        "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "visionlab", "SLURM_NTASKS": str(tasks),
        "SLURM_NNODES": str(nodes), "SLURM_NTASKS_PER_NODE": str(tasks // nodes),
        "SLURM_NODELIST": "127.0.0.1", "MASTER_PORT": str(_free_port()),
    }  # fmt: skip
    envs = [
        common | {"SLURM_PROCID": str(r), "SLURM_LOCALID": str(r % (tasks // nodes)),
                  "SLURM_NODEID": str(r // (tasks // nodes))}
        for r in range(tasks)
    ]  # fmt: skip
    _processes([[sys.executable, *args]] * tasks, envs)


@pytest.fixture(scope="module", params=list(CASES))
def trained(request, tmp_path_factory, data_dir) -> tuple[str, Path, dict]:
    """One short single-process run per task, and its checkpoint evaluated by one process."""
    key, overrides = CASES[request.param]
    base = tmp_path_factory.mktemp(f"multinode_{request.param}")
    train_in_one_process([
        *FAST, *overrides, f"paths.data_dir={data_dir}", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "test=false",
    ], base / "train")  # fmt: skip
    checkpoint = base / "train/checkpoints/best.ckpt"
    return key, checkpoint, evaluate_in_one_process(checkpoint, base / "single")


def _evaluation(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())["metrics"]


@pytest.mark.parametrize("launch", [_torchrun_nodes, _slurm_tasks], ids=["torchrun", "slurm"])
def test_two_nodes_evaluate_as_one_process(trained, tmp_path, launch):
    key, checkpoint, single = trained
    run = tmp_path / "nodes"
    launch(
        "evaluate.py", f"ckpt_path={checkpoint}", "split=val", f"hydra.run.dir={run}", *TWO_NODES
    )
    assert _evaluation(run)[key] == pytest.approx(single[key], abs=1e-6)


def test_a_two_node_training_run_finishes(tmp_path, data_dir):
    run = tmp_path / "train"
    _torchrun_nodes(
        "train.py", *FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "test=false", *TWO_NODES,
    )  # fmt: skip
    results = json.loads((run / "results.json").read_text())
    assert results["metrics"]["val/acc"] > 0 and Path(results["best_checkpoint"]).is_file()
    assert (run / "checkpoints/last.ckpt").is_file()
    assert json.loads((run / "run.json").read_text())["world_size"] == 2


def test_a_slurm_task_count_that_does_not_fit_is_refused_in_one_line(tmp_path, data_dir):
    """Two tasks per node, one device in the trainer: one line naming both, well within a
    minute, and no process waits for a peer that never comes."""
    env = {
        "SLURM_JOB_ID": "4243", "SLURM_JOB_NAME": "visionlab", "SLURM_NTASKS": "2",
        "SLURM_NNODES": "1", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NODELIST": "127.0.0.1",
        "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "train.py", *FAST, f"paths.data_dir={data_dir}",
         f"hydra.run.dir={tmp_path / 'run'}", "trainer=ddp", "trainer.accelerator=cpu",
         "trainer.devices=1"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "SLURM started 2 tasks on 1 node(s)" in errors[0]
    assert "trainer.num_nodes=1 x trainer.devices=1" in errors[0]
    assert "Traceback" not in output


def test_the_sbatch_script_trains_on_two_nodes(tmp_path, data_dir):
    """`scripts/slurm/train.sbatch` as SLURM runs it: its variables from the #SBATCH block
    (here 2 nodes x 1 task) and `srun` starting one process per task with its rank (a
    stand-in for srun on this machine, which has no SLURM)."""
    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text(
        "#!/bin/bash\n"
        "for r in $(seq 0 $((SLURM_NTASKS - 1))); do\n"
        "  SLURM_PROCID=$r SLURM_LOCALID=$((r % SLURM_NTASKS_PER_NODE)) "
        'SLURM_NODEID=$((r / SLURM_NTASKS_PER_NODE)) "$@" &\n'
        "done\nwait\n"
    )
    srun.chmod(0o755)
    env = {
        "PATH": f"{srun.parent}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent), "SLURM_SUBMIT_DIR": str(REPO),
        "SLURM_JOB_ID": "4244", "SLURM_JOB_NAME": "visionlab", "SLURM_NNODES": "2",
        "SLURM_NTASKS_PER_NODE": "1", "SLURM_NTASKS": "2", "SLURM_NODELIST": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
    }  # fmt: skip
    run = tmp_path / "run"
    done = subprocess.run(
        ["bash", "scripts/slurm/train.sbatch", *FAST, f"paths.data_dir={data_dir}",
         f"hydra.run.dir={run}", "trainer.accelerator=cpu", "trainer.sync_batchnorm=false",
         "trainer.max_epochs=1", "trainer.limit_train_batches=2", "test=false"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    _check(done)
    assert json.loads((run / "results.json").read_text())["metrics"]["val/acc"] > 0
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
