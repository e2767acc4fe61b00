"""Check a dataset without training: python check.py [task=detect] data=coco data.root=PATH"""

import hydra

from visionlab.cli.check import check
from visionlab.cli.common import run_entry


@hydra.main(version_base="1.3", config_path="conf", config_name="check")
def main(cfg):
    return run_entry(check, cfg)


if __name__ == "__main__":
    main()
