"""The task a command line implies: `python train.py data=voc data.root=...` needs no `task=`.

Each `conf/data/<source>.yaml` lists the tasks its source serves (a stream, `data=stream`,
records them in the stream), and each model class registers the tasks it serves. Without
`task=` (and without `experiment=` or `resume=`, which bring their own), the tasks that every
`data=` and `model=` on the command line serve decide it: one task is added as `task=<it>`
before Hydra composes, so the run is exactly that of `task=<it>` (its default model, sizes,
epochs and log folder). Where several remain, the default task (classify) is kept if it is
one of them (the embedded `shapes` data serves every task); otherwise the command is refused,
naming the choices, before any run folder exists.
"""

from __future__ import annotations

import sys
from itertools import product

from omegaconf import OmegaConf

from visionlab.errors import ConfigError
from visionlab.utils.config import config_dir, model_tasks

DEFAULT_TASK = "classify"
OWN_TASK_KEYS = ("task", "experiment", "resume")  # a command line with these keeps its task
GROUPS = ("data", "model")


def served_tasks(group: str, option: str, overrides: list[str] = ()) -> list[str]:
    """The tasks `conf/<group>/<option>.yaml` serves: a data source's `tasks` list (for a
    stream, the list it recorded, read where `data.uri` points), or what the model's network
    registered (empty for an unknown option, which Hydra reports)."""
    path = config_dir() / group / f"{option}.yaml"
    if not path.is_file():
        return []
    if group == "model":
        return list(model_tasks(option))
    if option == "stream":
        return _stream_tasks(overrides)
    return list(OmegaConf.load(path).get("tasks") or [])


def _stream_tasks(overrides: list[str]) -> list[str]:
    values = dict(arg.lstrip("+").partition("=")[::2] for arg in overrides)
    if not values.get("data.uri"):
        return []
    from visionlab.data.stream.datamodule import read_meta
    from visionlab.data.stream.location import StreamLocation
    from visionlab.errors import DataError

    try:
        location = StreamLocation(values["data.uri"], values.get("data.endpoint_url") or None)
        return list(read_meta(location)["tasks"])
    except DataError as err:
        raise ConfigError(str(err)) from err


def _choices(argv: list[str], group: str) -> list[str]:
    """The options `group=a[,b...]` picks on the command line (a sweep may list several)."""
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        if key == group and value:
            return [v.strip() for v in value.split(",")]
    return []


def _decide(picked: dict[str, str], overrides: list[str]) -> str | None:
    """The task for one combination of `{group: option}`; None keeps the default."""
    served = {group: served_tasks(group, option, overrides) for group, option in picked.items()}
    known = {group: tasks for group, tasks in served.items() if tasks}
    if not known:
        return None
    common = set.intersection(*(set(tasks) for tasks in known.values()))
    described = "; ".join(
        f"{group}={picked[group]} serves {', '.join(tasks)}" for group, tasks in known.items()
    )
    if not common:
        raise ConfigError(f"no task fits this command line ({described})")
    if len(common) == 1:
        return common.pop()
    if DEFAULT_TASK in common:
        return None
    options = " or ".join(f"task={task}" for task in sorted(common))
    raise ConfigError(f"{described}: choose the task, add {options}")


def task_argv(argv: list[str]) -> list[str]:
    """`argv` with `task=<it>` added where the data and model choices imply one task."""
    overrides = argv[1:]
    if any(arg.lstrip("+~").partition("=")[0] in OWN_TASK_KEYS for arg in overrides):
        return argv
    chosen = {group: _choices(overrides, group) for group in GROUPS}
    chosen = {group: options for group, options in chosen.items() if options}
    if not chosen:
        return argv
    tasks = {
        _decide(dict(zip(chosen, combination, strict=True)), overrides)
        for combination in product(*chosen.values())
    }
    if len(tasks) > 1:
        options = " or ".join(f"task={task}" for task in sorted(t or DEFAULT_TASK for t in tasks))
        raise ConfigError(f"the swept data/model options serve different tasks: add {options}")
    task = tasks.pop()
    return argv if task is None else [*argv, f"task={task}"]


def with_task(argv: list[str]) -> list[str]:
    """`task_argv(argv)` for an entry point: a refusal ends the program with its message and
    exit code 1, before Hydra creates anything."""
    try:
        return task_argv(argv)
    except ConfigError as err:
        sys.exit(f"ERROR - {err}")
