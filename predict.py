"""Predict on images: python predict.py ckpt_path=<best.ckpt> input=<image or folder>"""

import hydra

from visionlab.cli.common import run_entry
from visionlab.cli.predict import predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg):
    return run_entry(predict, cfg)


if __name__ == "__main__":
    main()
