"""The agent's in-process counter snapshot (lab/guest/snap.py) reads what ethtool, ip and /proc report."""
import os
import secrets
import subprocess

import pytest

from lab.guest import snap  # the guest-side module, stdlib only
from lab.metrics.counters import delta, parse_ethtool, parse_link_json, parse_snapshot, parse_snmp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def sh(*argv):
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


@pytest.fixture
def pair(tmp_path):
    """Namespaces <x>a and <x>b joined by a veth pair, both ends named eth0 (as the lab's links)."""
    ns = [f"dls{secrets.token_hex(3)}{s}" for s in "ab"]  # unique: a name left by an interrupted run never collides
    for n in ns:
        sh("ip", "netns", "add", n)
        sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")  # no ND/MLD of its own
    try:
        sh("ip", "link", "add", "sa", "netns", ns[0], "type", "veth", "peer", "sb", "netns", ns[1])
        for n, dev, i in ((ns[0], "sa", 1), (ns[1], "sb", 2)):
            sh("ip", "netns", "exec", n, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
            sh("ip", "-n", n, "link", "set", dev, "name", "eth0")
            sh("ip", "-n", n, "addr", "add", f"10.77.0.{i}/24", "dev", "eth0")
            sh("ip", "-n", n, "link", "set", "eth0", "up")
        sh("ip", "netns", "exec", ns[0], "ping", "-c", "3", "-i", "0.2", "10.77.0.2")
        yield ns
    finally:
        for n in ns:
            subprocess.run(["ip", "netns", "del", n])


def test_snapshot_equals_what_the_tools_report(pair):
    text = snap.snapshot({"a": pair[0], "b": pair[1]})
    got = parse_snapshot(text)
    for side, ns in zip("ab", pair):
        tool_eth = parse_ethtool(sh("ip", "netns", "exec", ns, "ethtool", "-S", "eth0"))
        tool_link = parse_link_json(sh("ip", "-n", ns, "-s", "-s", "-j", "link", "show", "eth0"))
        tool_snmp = parse_snmp(sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp", "/proc/net/netstat",
                                  "/proc/net/snmp6"))
        assert tool_eth and {k: got[f"{side}.ethtool.{k}"] for k in tool_eth} == tool_eth
        for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_dropped", "rx_over_errors"):
            assert got[f"{side}.link.{k}"] == tool_link[k], (side, k)
        # snmp counters move on their own (ND, timers): the ones our ping set, exactly
        for k in ("IcmpOutEchos", "IcmpInEchos", "IcmpOutEchoReps", "IpInReceives"):
            assert got[f"{side}.snmp.{k}"] == tool_snmp[k], (side, k)
    assert got["a.snmp.IcmpOutEchos"] == 3 and got["b.snmp.IcmpInEchos"] == 3
    assert got["softnet.processed"] >= 0 and "stat.user" in got


def test_snapshot_deltas_count_traffic_between_two_snapshots(pair):
    before = parse_snapshot(snap.snapshot({"a": pair[0], "b": pair[1]}))
    sh("ip", "netns", "exec", pair[0], "ping", "-c", "5", "-i", "0.2", "10.77.0.2")
    d = delta(before, parse_snapshot(snap.snapshot({"a": pair[0], "b": pair[1]})))
    assert d["a.snmp.IcmpOutEchos"] == 5 and d["b.snmp.IcmpInEchos"] == 5
    assert d["a.link.tx_packets"] >= 5 and d["b.link.rx_packets"] >= 5


def test_a_namespace_that_does_not_exist_is_an_error_naming_it():
    with pytest.raises(RuntimeError, match=r"a \(dplab-no-such-ns\)"):
        snap.snapshot({"a": "dplab-no-such-ns"})
