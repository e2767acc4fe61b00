"""One JSON line per finished run folder: label, anchors, best val mAP50, test metrics, per-class AP."""
import csv, json, sys
from pathlib import Path
run, label = Path(sys.argv[1]), sys.argv[2]
out = {"label": label}
try:
    res = json.loads((run / "results.json").read_text())
    m = res["metrics"]
    out |= {k: round(v, 4) for k, v in m.items() if k.startswith("test/mAP") or k == "test/recall"}
    out["val_mAP50_best"] = round(m.get("val/mAP50_best", float("nan")), 4)
    out["anchors"] = json.loads((run / "data_report.json").read_text()).get("anchor_sizes")
    out["ap_test"] = {r["class"]: round(float(r["AP"]), 4) for r in csv.DictReader(open(run / "per_class_ap_test.csv"))}
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    out["val_mAP50_by_epoch"] = [round(float(r["val/mAP50"]), 4) for r in rows if r.get("val/mAP50")]
except Exception as error:
    out["error"] = repr(error)
print(json.dumps(out), flush=True)
