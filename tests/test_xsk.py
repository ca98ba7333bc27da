"""AF_XDP generator on the host (veth) and the XSK path check in real guests."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
XSK = ROOT / "tools/bin/xsk_tx"


def test_generator_rejects_bad_arguments():
    for args in ([], ["-i", "lo", "-s", "10"], ["-i", "lo", "-b", "0"], ["-i", "lo", "-d", "0"]):
        p = subprocess.run([str(XSK), *args], capture_output=True, text=True)
        assert p.returncode == 2 and "usage:" in p.stderr


def test_generator_on_a_host_veth_pair(tmp_path):
    """SKB mode, copy bind, 64 B: the peer receives what the generator says completed."""
    ns_a, ns_b = f"dplab-xt-{tmp_path.name[-6:]}a", f"dplab-xt-{tmp_path.name[-6:]}b"
    sh = lambda *a: subprocess.run(list(a), check=True, capture_output=True, text=True)
    sh("ip", "netns", "add", ns_a)
    sh("ip", "netns", "add", ns_b)
    try:
        sh("ip", "link", "add", "xa", "netns", ns_a, "address", "02:00:00:00:00:01", "type", "veth",
           "peer", "xb", "netns", ns_b, "address", "02:00:00:00:00:02")
        sh("ip", "-n", ns_a, "link", "set", "xa", "up")
        sh("ip", "-n", ns_b, "link", "set", "xb", "up")
        before = json.loads(sh("ip", "-n", ns_b, "-s", "-j", "link", "show", "xb").stdout)[0]["stats64"]["rx"]["packets"]
        out = sh("ip", "netns", "exec", ns_a, str(XSK), "-i", "xa", "-s", "64", "-d", "1", "--dmac", "02:00:00:00:00:02",
                 "--smac", "02:00:00:00:00:01").stdout
        res = json.loads(out)
        after = json.loads(sh("ip", "-n", ns_b, "-s", "-j", "link", "show", "xb").stdout)[0]["stats64"]["rx"]["packets"]
        assert res["mode"] == "skb" and res["bind"] == "copy" and res["frame_len"] == 60
        assert res["packets"] > 1000 and res["value"] > 0 and res["kick_errors"] == 0
        got = after - before
        assert res["packets"] <= got <= res["packets"] + 20  # + stray IPv6 ND/MLD on a fresh link
        assert set(res["xdp_stats"]) >= {"tx_invalid_descs", "tx_ring_empty_descs"}
    finally:
        subprocess.run(["ip", "netns", "del", ns_a])
        subprocess.run(["ip", "netns", "del", ns_b])


@pytest.mark.vm
@pytest.mark.build
def test_page_path_on_stock_virtio_copy_path_with_the_patch(tmp_path, accel):
    """One size on both kernels: the expectations in testcases/xsk.yaml fail a cell whose path
    (skb_store_bits calls per packet) contradicts its label; here they must all hold."""
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases/xsk.yaml")
    tc.axes = {"size": [1500]}
    tc.links = ["virtio"]
    rd = run_testcase(tc, RunOptions(repeat=1, duration=2, accel=accel, runs_root=str(tmp_path)), say=print)
    recs = {r["kernel"]["name"]: r for r in rd.results()}
    assert set(recs) == {"stock", "xsk-copy-path"}
    for name, r in recs.items():
        assert r["status"] == "ok", r.get("error")
        assert r["value"] > 0 and r["counters"]["b.link.rx_packets"] >= 0.9 * r["extra"]["packets"]
    stock, copy = recs["stock"], recs["xsk-copy-path"]
    assert stock["perf"]["dplab:skb_store_bits"] == 0
    assert copy["perf"]["dplab:skb_store_bits"] >= 0.9 * copy["extra"]["packets"]
