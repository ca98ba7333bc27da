"""`make bench-modes`: the same cells in wall-clock and deterministic mode, CV of each, in one run; then
the deterministic cells again with every host core busy (quiet vs loaded).

XSK generic xmit (virtio-net, stock lab kernel, 64 and 1500 B) and iperf3 TCP (virtio-net), N repeats
each, in both modes; then every testcase with an instruction headline, quiet and with every host core busy.
Prints per-cell median and CV, the instructions per packet (the headline) and the loaded level vs the quiet."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELLS = [("xsk", {"size": [64, 1500]}), ("throughput", {"protocol": ["tcp"]})]
# (testcase, axes, kernel) of each testcase whose deterministic records headline instructions
LOADED = [("xsk", {"size": [64, 1500]}, "stock"), ("udpgso", {"gso": ["off", "on"], "ip": [4]}, "stock"),
          ("bulk", {"burst": [1, 32], "xmit_mode": ["start_xmit"], "size": [64]}, "stock"),
          ("tunnel", {"tunnel": ["vxlan"], "gso": ["off", "on"]}, "stock"), ("xdp-rx", {}, "debian"),
          ("offload", {}, "stock"), ("throughput", {"protocol": ["tcp", "udp"]}, "stock"),
          ("ipsec", {"alg": ["gcm", "null"], "esp_mode": ["transport"]}, "stock")]


def measure(name, axes, mode, repeat, duration, runs, kernel="stock"):
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases" / f"{name}.yaml")
    opts = RunOptions(kernels=[kernel], mode=mode, links=["virtio"], axes=axes, repeat=repeat, duration=duration,
                      runs_root=runs)
    return [r for r in run_testcase(tc, opts, say=lambda *_: None).results() if r.get("status") == "ok"]


@contextmanager
def busy_host():
    """Every host core spinning (a busy loop each) while the block runs."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in loops:
            p.kill()
            p.wait()


def rows(records):
    from lab.results.headline import headline
    from lab.results.stats import summarize
    groups = {}
    for r in records:
        groups.setdefault((r["testcase"], r["mode"] + r.get("_host", ""), json.dumps(r["params"], sort_keys=True)),
                          []).append(r)
    out = []
    for (tc, mode, params), recs in sorted(groups.items()):
        s = summarize([r["value"] for r in recs])
        h = headline(recs[0])
        insn = summarize([headline(r).value if h.instructions else None for r in recs])
        out.append({"testcase": tc, "mode": mode, "params": json.loads(params), "n": s.n, "unit": recs[0]["unit"],
                    "median": s.median, "cv_pct": s.cv_pct, "insn_per_pkt": insn.median, "insn_cv_pct": insn.cv_pct})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=5, help="repeats per cell (default 5)")
    ap.add_argument("--duration", type=float, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    recs = []
    from lab.modes import DETERMINISTIC, MODES
    with tempfile.TemporaryDirectory() as runs:
        for name, axes in CELLS:
            for mode in MODES:
                recs += measure(name, axes, mode, a.n, a.duration, runs)
        for name, axes, kernel in LOADED[1:]:  # xsk's quiet cells are measured above
            recs += measure(name, axes, DETERMINISTIC.name, a.n, a.duration, runs, kernel)
        with busy_host():
            for name, axes, kernel in LOADED:
                loaded = measure(name, axes, DETERMINISTIC.name, a.n, a.duration, runs, kernel)
                recs += [dict(r, _host="+loaded") for r in loaded]
    res = rows(recs)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{'testcase':10s} {'mode':20s} {'params':14s} {'n':>2s} {'median':>10s} {'unit':6s} {'CV%':>5s} "
          f"{'insn/pkt':>10s} {'CV%':>5s}")  # the headline's instructions per packet (deterministic mode)
    for r in res:
        p = ",".join(f"{k}={v}" for k, v in r["params"].items())
        f = lambda v, fmt: "-" if v is None else fmt.format(v)
        print(f"{r['testcase']:10s} {r['mode']:20s} {p:14s} {r['n']:2d} {f(r['median'], '{:.4g}'):>10s} {r['unit']:6s} "
              f"{f(r['cv_pct'], '{:.2f}'):>5s} {f(r['insn_per_pkt'], '{:.1f}'):>10s} "
              f"{f(r['insn_cv_pct'], '{:.3f}'):>5s}")
    quiet = {(r["testcase"], json.dumps(r["params"])): r for r in res if r["mode"] == DETERMINISTIC.name}
    for r in res:
        q = quiet.get((r["testcase"], json.dumps(r["params"])))
        if r["mode"].endswith("+loaded") and q and q["insn_per_pkt"]:
            print(f"{r['testcase']} {json.dumps(r['params'])}: loaded vs quiet level "
                  f"{100 * (r['insn_per_pkt'] / q['insn_per_pkt'] - 1):+.3f} %")


if __name__ == "__main__":
    main()
