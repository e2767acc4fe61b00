"""Evaluate a checkpoint: python evaluate.py ckpt_path=logs/classify/<run>/checkpoints/best.ckpt"""

import hydra

from visionlab.cli.common import run_entry
from visionlab.cli.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg):
    return run_entry(evaluate, cfg)


if __name__ == "__main__":
    main()
