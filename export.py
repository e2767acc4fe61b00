"""Export a trained model: python export.py ckpt_path=<best.ckpt> [format=onnx|torchscript]"""

import hydra

from visionlab.cli.common import run_entry
from visionlab.cli.export import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg):
    return run_entry(export, cfg)


if __name__ == "__main__":
    main()
