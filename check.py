"""Check a dataset without training: python check.py data=<source> data.root=PATH [task=...]"""

import sys

import hydra

from visionlab.cli.check import check
from visionlab.cli.common import run_entry
from visionlab.cli.task_choice import with_task


@hydra.main(version_base="1.3", config_path="conf", config_name="check")
def main(cfg):
    return run_entry(check, cfg)


if __name__ == "__main__":
    sys.argv = with_task(sys.argv)  # the task the data source implies
    main()
