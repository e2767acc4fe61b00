"""Compare the runs of a multirun folder: python scripts/compare_runs.py logs/multirun/<time>

Writes comparison.md, comparison.csv and comparison.png into the folder (train.py -m does this
by itself when the sweep ends) and prints the table.
"""

import argparse
import sys

from visionlab.sweeps import write_comparison


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a multirun folder (its jobs are numbered subfolders)")
    markdown = write_comparison(parser.parse_args().sweep_dir)
    if markdown is None:
        print("no runs found (expected <n>/.hydra/overrides.yaml below the folder)")
        return 1
    print(markdown.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
