"""Train a model: python train.py [task=classify] [model=...] [data=imagefolder data.root=PATH]"""

import sys

import hydra

from visionlab.cli.common import run_entry
from visionlab.cli.resume import resume_argv
from visionlab.cli.task_choice import with_task
from visionlab.cli.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg):
    return run_entry(train, cfg)


if __name__ == "__main__":
    # the task the data or model implies; a resumed run logs into its own folder
    sys.argv = resume_argv(with_task(sys.argv))
    main()
