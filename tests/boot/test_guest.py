"""Real guests: traffic on both links, command timeouts and exit codes, panics and crashes."""
import subprocess
import time

import pytest

from lab.errors import GuestCrash, GuestError
from lab.runner import RunOptions, run_testcase
from lab.workloads import load_testcase
from tests.support import LAB, ROOT

pytestmark = pytest.mark.vm


def qemu_running(run_id):
    return subprocess.run(["pgrep", "-f", f"dplab-{run_id}"], capture_output=True).returncode == 0


def test_throughput_testcase_passes_traffic_on_both_links(tmp_path, accel, default_kernel):
    tc = load_testcase(ROOT / "testcases/throughput.yaml")
    rd = run_testcase(tc, RunOptions(kernels=[default_kernel.spec()], duration=2, accel=accel, runs_root=str(tmp_path)),
                      say=print)
    recs = [r for r in rd.results() if not r.get("retried")]
    assert {(r["nic_model"], r["params"]["protocol"]) for r in recs} == {
        ("virtio", "tcp"), ("virtio", "udp"), ("e1000e", "tcp"), ("e1000e", "udp")}
    for r in recs:
        assert r["status"] == "ok", r.get("error")
        assert r["value"] > 0
        c, perf = r["counters"], r["perf"]
        sent = c["a.link.tx_packets"]
        assert sent > 100 and c["b.link.rx_packets"] >= sent * 0.5
        assert perf["net:net_dev_xmit"] > sent / 2
        assert perf["net:netif_receive_skb"] > 0
        assert r["derived"]["cpu_busy_pct"] > 0
        if r["params"]["protocol"] == "udp":
            assert c["b.snmp.UdpInDatagrams"] > 100 and c["a.snmp.UdpOutDatagrams"] > 100
        else:
            assert c["a.snmp.TcpOutSegs"] > 100
    m = rd.manifest
    assert m["status"] == "ok" and m["kernels"][0]["sha256"] and m["qemu_argv"] and m["accel"] == accel
    nics = m["guests"][m["kernels"][0]["name"]]["nics"]
    assert nics["virtio0a"]["driver"] == "virtio_net" and nics["e1000e1b"]["driver"] == "e1000e"
    assert (rd.path / "console.log").stat().st_size > 1000
    assert not qemu_running(rd.id)


def test_guest_command_timeout_and_exit_codes(booted):
    g = booted.guest
    r = g.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (r.rc, r.stdout, r.stderr) == (3, "out\n", "err\n")
    t0 = time.monotonic()
    with pytest.raises(GuestError, match="timed out after 2"):
        g.run(["sleep", "60"], timeout=2)
    assert time.monotonic() - t0 < 20
    assert g.run(["true"]).rc == 0  # still usable
    with pytest.raises(GuestError, match=r"(?s)rc=1.*--- stderr ---\nboom"):
        g.sh("echo boom >&2; false")


def test_links_are_namespaced_and_cross_the_nics(booted):
    g = booted.guest
    for link in booted.links:
        out = g.ns_run(link.ns("a"), ["ping", "-c", "3", "-i", "0.2", "-W", "5", link.addr("b")], timeout=60).stdout
        assert " 0% packet loss" in out
        assert link.addr("b") not in g.run(["ip", "-br", "addr"]).stdout  # not in the root namespace


def test_lab_boot_runs_a_command_and_returns_its_code(tmp_path):
    # one word after -- is a shell string, as vng --exec takes it
    p = subprocess.run(LAB + ["boot", "--runs", str(tmp_path), "--", "uname -r; echo two; exit 7"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 7, p.stderr
    release, two = p.stdout.split()
    assert release.startswith("6.") and two == "two"


def test_panic_at_boot_fails_fast_with_the_panic_quoted(tmp_path):
    t0 = time.monotonic()
    p = subprocess.run(LAB + ["boot", "--kernel", "stock", "--runs", str(tmp_path), "--append", "rdinit=/nonexistent",
                              "--", "true"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    took = time.monotonic() - t0
    assert p.returncode == 1
    assert "Kernel panic - not syncing" in p.stderr
    run_id = next(tmp_path.iterdir()).name
    assert not qemu_running(run_id)
    print(f"panic detected in {took:.1f}s")


def test_crash_during_a_command_is_reported_and_qemu_is_gone(tmp_path, default_kernel, accel):
    from lab.results.rundir import RunDir
    from lab.vm import VM, VMConfig
    rd = RunDir.create(tmp_path, "crash")
    with pytest.raises(GuestCrash) as e:
        with VM(default_kernel, rd, VMConfig(accel=accel, backend="hub")) as vm:
            vm.guest.sh("echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger", timeout=60)
    assert e.value.report.kind in ("panic", "bug", "oops")
    assert "sysrq" in e.value.report.excerpt.lower() or "sysrq" in str(e.value).lower()
    assert not vm.alive()


KNOWN = """name: known-answer
links: [virtio]
duration: 2
repeat: 5
requires: [iperf3, ethtool]
axes:
  offload: ["on", "on-again", "off"]
parser: iperf3
metric: {name: throughput, unit: Gbit/s}
setup: |
  {% set o = "off" if params.offload == "off" else "on" %}
  nsx {{ link.ns_a }} ethtool -K eth0 tso {{ o }} gso {{ o }}
  nsx {{ link.ns_b }} iperf3 -s -1 -D -B {{ link.addr_b }}
  wait_tcp_listen {{ link.ns_b }} 5201
run: |
  nsx {{ link.ns_a }} iperf3 -J -c {{ link.addr_b }} -t {{ duration }}
teardown: |
  nsx {{ link.ns_b }} pkill -x iperf3 || true
  nsx {{ link.ns_a }} ethtool -K eth0 tso on gso on
"""


def test_known_answers_offload_off_is_slower_and_a_vs_a_is_not_significant(tmp_path, accel, default_kernel):
    """TSO/GSO off must be called slower on virtio-net; the same setting twice must not be called anything.

    At 95 % confidence one A/A comparison in twenty is called significant by construction, so the
    A/A half is judged at 99 % (CI stays green 99 times in 100); the off half at the default 95 %."""
    from lab.results.compare import compare
    p = tmp_path / "known.yaml"
    p.write_text(KNOWN)
    rd = run_testcase(load_testcase(p), RunOptions(kernels=[default_kernel.spec()], accel=accel,
                                                   runs_root=str(tmp_path)),
                      say=print)
    recs = [r for r in rd.results() if not r.get("retried")]  # a cell retried after a guest hang counts once
    assert all(r["status"] == "ok" for r in recs) and len(recs) == 15
    by = {p.b: p for p in compare(recs, by="offload", baseline="on")}
    off = by["off"].result
    print(f"on->off {off.change_pct:+.1f}% [{off.ci_low_pct:+.1f}, {off.ci_high_pct:+.1f}] {off.verdict}")
    assert off.verdict == "slower"
    # counters explain it: with TSO/GSO off, the sender NIC sends many more (smaller) packets
    moved = dict(by["off"].counters)
    assert "tx_packets" in moved and moved["tx_packets"].change_pct > 100, by["off"].counters
    aa = {p.b: p for p in compare(recs, by="offload", baseline="on", confidence=0.99)}["on-again"].result
    print(f"on->on-again {aa.change_pct:+.1f}% [{aa.ci_low_pct:+.1f}, {aa.ci_high_pct:+.1f}] {aa.verdict}")
    assert aa.verdict == "not significant"
