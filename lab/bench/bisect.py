"""`make bench-bisect`: `lab bisect` over a 16-commit history made from the pristine source (lab/bench/history.py)
with one slow commit at a position drawn here (BENCH_BISECT_SEED fixes it): steps, each revision's build (seeded
or not, seconds), each measurement's wall time, the total. Deterministic mode, XSK 64 B on virtio-net.

Prints a JSON summary and writes it to runs/bench-bisect-<time>.json.
"""
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from .history import XMIT, XMIT_ANCHOR, insert_after, loop, make_history

FILES = ["net/core/dev.c", "net/core/skbuff.c", "net/ipv4/tcp.c", "net/ipv4/udp.c", "net/ipv6/udp.c",
         "drivers/net/ethernet/intel/e1000e/netdev.c", "net/core/sock.c", "net/ipv4/ip_output.c",
         "net/xdp/xsk.c", "net/core/filter.c", "net/ipv4/route.c", "net/core/neighbour.c", "net/ipv6/ip6_output.c",
         "net/packet/af_packet.c", "net/core/gro.c", "net/ipv4/af_inet.c"]


def commits(slow_at, n=16):
    """n commits: a comment in a file of the stack each, except the one at `slow_at` (a loop in start_xmit)."""
    out = []
    for i in range(n):
        if i == slow_at:
            out.append((f"virtio_net: a small loop in start_xmit (commit {i + 1})", {XMIT: insert_after(XMIT_ANCHOR,
                                                                                                         loop(10))}))
        else:
            f = FILES[i % len(FILES)]
            out.append((f"{f}: a comment (commit {i + 1})", {f: lambda t, i=i: t + f"/* dplab bench: commit {i} */\n"}))
    return out


def main():
    from lab.bisect import Bisect
    from lab.kernel.build import BuildRequest, build
    from lab.kernel.source import resolve_source
    from lab.paths import ROOT, cache_root
    from lab.runner import RunOptions
    from lab.workloads import load_testcase
    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    seed = int(os.environ.get("BENCH_BISECT_SEED", random.randrange(1 << 30)))
    slow_at = random.Random(seed).randrange(16)
    t0 = time.monotonic()
    build(BuildRequest(), say=say)  # the stock build: the history's base seeds from it
    t = time.monotonic()
    repo = make_history(cache_root() / "histories" / "bench-bisect", resolve_source().path,
                        commits(slow_at))
    made = round(time.monotonic() - t, 1)
    runs = Path(tempfile.mkdtemp(prefix="bench-bisect-", dir=Path("runs").resolve() if Path("runs").is_dir() else None))
    opts = RunOptions(mode="deterministic", links=["virtio"], axes={"size": [64]}, repeat=3, duration=1,
                      runs_root=str(runs))
    t = time.monotonic()
    s = Bisect(load_testcase(ROOT / "testcases/xsk.yaml"), repo, "HEAD~16", "HEAD", opts, say=say,
               directory=runs / "bisect").run()
    wall = round(time.monotonic() - t, 1)
    subjects = {st["commit"]: st["subject"] for st in s["steps"]}
    steps = []
    for st in s["steps"]:
        b = {}
        if st.get("run_dir"):
            m = json.loads((Path(st["run_dir"]) / "manifest.json").read_text())
            b = (m.get("kernels") or [{}])[0].get("build") or {}
        steps.append({"commit": st["commit"][:12], "subject": st["subject"], "status": st["status"],
                      "build_s": (b.get("times") or {}).get("total_s"), "seeded": bool(b.get("seeded_from"))})
    res = {"seed": seed, "slow_commit_position": slow_at + 1,
           "found": subjects.get(s["first_bad"], "").endswith(f"(commit {slow_at + 1})"),
           "first_bad": s["first_bad"], "functions": s.get("functions", [])[:3], "measured": s["measured"],
           "history_made_s": made, "bisect_wall_s": wall, "total_s": round(time.monotonic() - t0, 1), "steps": steps}
    out = Path("runs") / f"bench-bisect-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
