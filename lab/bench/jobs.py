"""`make bench-jobs`: one deterministic run serial (--jobs 1) and with two guests at once (--jobs 2), wall time of
each and their ratio, and how far the headlines moved (bulk: pktgen bursts 1, 8, 32 on virtio-net, 6 repeats: 18 cells).

Prints a JSON summary and writes it to runs/bench-jobs-<time>.json."""
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXES = {"burst": [1, 8, 32], "xmit_mode": ["start_xmit"], "size": [64]}
REPEAT = 6


def main():
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases" / "bulk.yaml")
    res, medians = {}, {}
    runs = Path("runs") / f"bench-jobs-{time.strftime('%Y%m%d-%H%M%S')}"  # both runs' dirs kept, beside the JSON
    for jobs in (1, 2):
        t = time.monotonic()
        rd = run_testcase(tc, RunOptions(kernels=["stock"], mode="deterministic", links=["virtio"], axes=AXES,
                                         repeat=REPEAT, jobs=jobs, runs_root=str(runs)), say=lambda *_: None)
        res[f"jobs{jobs}_wall_s"] = round(time.monotonic() - t, 1)
        recs = [r for r in rd.results() if r.get("status") == "ok"]
        medians[jobs] = {b: statistics.median(r["derived"]["insn/pkt"] for r in recs if r["params"]["burst"] == b)
                         for b in AXES["burst"]}
    res["wall_ratio"] = round(res["jobs2_wall_s"] / res["jobs1_wall_s"], 3)
    res["headline_change_pct"] = {f"burst {b}": round(100 * (medians[2][b] / medians[1][b] - 1), 4)
                                  for b in AXES["burst"]}
    res["insn_per_pkt"] = {f"burst {b}": [medians[1][b], medians[2][b]] for b in AXES["burst"]}
    out = runs.with_suffix(".json")
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
