"""python -m visionlab.data.stream write data=<source> data.root=PATH out=<dir or s3://...>"""

import logging
import sys

import hydra
from omegaconf import DictConfig

from visionlab.cli.common import build_datamodule, run_entry
from visionlab.cli.task_choice import with_task
from visionlab.data.stream.location import StreamLocation
from visionlab.data.stream.write import write_stream
from visionlab.utils.config import check_config, config_dir, fill_preprocessing

log = logging.getLogger("visionlab")
USAGE = __doc__.strip()


def write(cfg: DictConfig) -> dict:
    check_config(cfg)
    fill_preprocessing(cfg)
    datamodule = build_datamodule(cfg.data, cfg.task.name)
    location = StreamLocation(cfg.out, cfg.endpoint_url)
    meta = write_stream(datamodule, location, cfg.chunk_bytes, cfg.writers)
    splits = ", ".join(f"{split} {n}" for split, n in meta["splits"].items())
    tasks = ", ".join(meta["tasks"])
    log.info("Stream written to %s: %s images; serves %s", cfg.out, splits, tasks)
    return meta


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="stream")
def main(cfg: DictConfig):
    return run_entry(write, cfg)


if __name__ == "__main__":
    if sys.argv[1:2] != ["write"]:
        sys.exit(f"usage: {USAGE}")
    sys.argv = with_task([sys.argv[0], *sys.argv[2:]])
    main()
