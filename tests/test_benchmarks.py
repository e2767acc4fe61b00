"""The benchmark scripts that are quick enough to run in the tests."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO


def test_map_timing_scores_its_synthetic_set(tmp_path):
    out = tmp_path / "map.json"
    command = [sys.executable, "scripts/bench_map.py", "--images", "20", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["images"] == 20 and result["compute_s"] > 0
    # a noisy copy of every box is among the detections, so the mAP is far from 0 but below 1
    assert 0.05 < result["mAP"] < 0.95
