"""The benchmark scripts that are quick enough to run in the tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def test_training_speed_is_compared_in_interleaved_rounds(tmp_path, imagefolder_root):
    out = tmp_path / "classify.json"
    command = [
        sys.executable, "scripts/bench_classify.py", "--data", str(imagefolder_root),
        "--batch-size", "4", "--steps", "2", "--rounds", "3", "--num-workers", "0",
        "--repeats", "1", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    row = json.loads(out.read_text())["models"]["efficientnet_lite0"]
    rounds = row["per_round"]
    assert row["rounds"] == 3 and all(len(rounds[k]) == 3 for k in ("plain", "visionlab"))
    ratios = rounds["ratio"]
    speeds = zip(rounds["plain"], rounds["visionlab"], strict=True)
    assert ratios == pytest.approx([v / p for p, v in speeds], rel=2e-3)
    assert row["train_ratio"] == pytest.approx(sorted(ratios)[1], rel=2e-3)
    low, high = row["train_ratio_ci95"]
    assert min(ratios) * 0.998 <= low <= row["train_ratio"] <= high <= max(ratios) * 1.002
