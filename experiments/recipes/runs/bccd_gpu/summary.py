"""One JSON line for a finished run folder: best val mAP50, test metrics, per-class AP.

python summary.py <run folder> <label>
"""

import csv
import json
import sys
from pathlib import Path


def rows(path: Path) -> list[dict]:
    with open(path) as file:
        return list(csv.DictReader(file))


run, label = Path(sys.argv[1]), sys.argv[2]
out = {"label": label}
try:
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    out |= {
        k: round(v, 4) for k, v in metrics.items() if k.startswith("test/mAP") or k == "test/recall"
    }
    out["val_mAP50_best"] = round(metrics.get("val/mAP50_best", float("nan")), 4)
    out["anchors"] = json.loads((run / "data_report.json").read_text()).get("anchor_sizes")
    out["ap_test"] = {
        r["class"]: round(float(r["AP"]), 4) for r in rows(run / "per_class_ap_test.csv")
    }
    epochs = [r for r in rows(run / "metrics.csv") if r.get("val/mAP50")]
    out["val_mAP50_by_epoch"] = [round(float(r["val/mAP50"]), 4) for r in epochs]
except (OSError, KeyError, ValueError) as error:
    out["error"] = repr(error)
print(json.dumps(out), flush=True)
