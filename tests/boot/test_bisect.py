"""`lab bisect` for real: a git history made from the pristine 6.1 source (lab/bench/history.py), every revision
built (seeded) and measured in deterministic mode in a real guest."""
import json
import math
import subprocess

import pytest

from lab.bench.history import XMIT, XMIT_ANCHOR, insert_after, loop
from tests.support import LAB, ROOT, git

E1000E = "drivers/net/ethernet/intel/e1000e/netdev.c"
COMMITS = [
    ("virtio_net: a comment in start_xmit", {XMIT: insert_after(XMIT_ANCHOR, "\t/* dplab: nothing but words */\n")}),
    ("virtio_net: a commit that does not build", {XMIT: insert_after(XMIT_ANCHOR, "\tdplab_does_not_build;\n")}),
    ("virtio_net: the build fixed", {XMIT: lambda t: t.replace("\tdplab_does_not_build;\n", "")}),
    ("virtio_net: a small loop in start_xmit", {XMIT: insert_after(XMIT_ANCHOR, loop(10))}),
    ("e1000e: an unrelated comment", {E1000E: insert_after("\treturn __e1000_maybe_stop_tx(tx_ring, size);\n}\n",
                                                           "\n/* dplab: an unrelated comment */\n")}),
]


@pytest.fixture(scope="module")
def history():
    from lab.bench.history import make_history
    from lab.kernel.build import BuildRequest, build
    from lab.kernel.source import resolve_source
    from lab.paths import cache_root
    build(BuildRequest(), say=print)  # the stock build: the history's base seeds from it
    return make_history(cache_root() / "histories" / "bisect-test", resolve_source().path, COMMITS)


def bisect(history, good, bad, directory):
    p = subprocess.run([*LAB, "bisect", str(ROOT / "testcases/xsk.yaml"), "--source", str(history), "--good", good,
                        "--bad", bad, "--mode", "deterministic", "--links", "virtio", "--axis", "size=64",
                        "--repeat", "3", "--duration", "1", "--resume", str(directory)],
                       capture_output=True, text=True, cwd=ROOT, timeout=3600)
    print(p.stdout[-4000:], p.stderr[-4000:])
    return p, json.loads((directory / "bisect.json").read_text())


@pytest.mark.vm
@pytest.mark.build
@pytest.mark.slow
def test_bisect_names_the_loop_commit_and_its_function_and_skips_the_broken_one(history, tmp_path):
    base, comment, broken, _, loop_commit, _ = (git(history, "rev-parse", f"HEAD~{n}") for n in range(5, -1, -1))
    index = (history / ".git" / "index").read_bytes()
    head = git(history, "rev-parse", "HEAD")
    d = tmp_path / "bisect"
    # a comment-only range: the two endpoints measured, nothing to bisect
    p, s = bisect(history, base, comment, d)
    assert p.returncode == 0 and "no change between good and bad" in p.stdout, p.stdout
    assert s["first_bad"] is None and s["measured"] == 2 and len(s["steps"]) == 2
    # the whole range, resumed in the same directory (same good revision: its two measurements stand)
    p, s = bisect(history, base, "HEAD", d)
    assert p.returncode == 0, p.stderr
    assert f"first bad commit: {loop_commit} virtio_net: a small loop in start_xmit" in p.stdout, p.stdout
    assert s["first_bad"] == loop_commit and s["functions"][0]["name"] == "start_xmit", s["functions"]
    assert s["functions"][0]["delta"] > 10, s["functions"]  # ten rounds of a volatile loop, per packet
    steps = {st["commit"]: st for st in s["steps"]}
    assert steps[broken]["status"] == "skip" and "build" in steps[broken]["why"], steps[broken]
    assert s["measured"] <= math.ceil(math.log2(len(COMMITS))) + 2, s["steps"]
    assert steps[comment]["status"] == "good"
    # the tree the user bisected is as it was: HEAD, index and working copy
    assert git(history, "rev-parse", "HEAD") == head and (history / ".git" / "index").read_bytes() == index
    assert git(history, "--no-optional-locks", "status", "--porcelain") == ""
