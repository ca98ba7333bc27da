"""Counter parsing: ethtool -S, ip -s -j link, /proc/net/snmp+netstat+snmp6, softnet_stat, /proc/stat, perf CSV."""
import json

from lab.metrics.counters import delta, parse_ethtool, parse_link_json, parse_snapshot, parse_snmp, parse_softnet
from lab.metrics.perf import parse_perf_csv, perf_argv

ETHTOOL = """NIC statistics:
     rx_queue_0_packets: 1203
     rx_queue_0_bytes: 1706404
     tx_queue_0_packets: 1646
     tx_queue_0_kicks: 900
"""
SNMP = """Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 1204
Udp: InDatagrams NoPorts InErrors OutDatagrams
Udp: 10 0 0 12013
TcpExt: SyncookiesSent TCPHPHits
TcpExt: 0 77
Ip6InReceives                   	5
Ip6OutRequests                  	7
"""
SOFTNET = ("00000010 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
           "00000000 00000000\n"
           "00000020 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 "
           "00000000 00000001\n")
LINK = json.dumps([{"ifname": "eth0", "stats64": {"rx": {"bytes": 10, "packets": 2, "errors": 0},
                                                   "tx": {"bytes": 3000, "packets": 2, "dropped": 0}}}])
PERF = """# started on Mon Nov 23 02:13:40 2026

6012.34,msec,cpu-clock,6012345678,100.00,2.000,CPUs utilized
2200,,net:net_dev_xmit,6012345678,100.00,,
<not supported>,,cycles,0,100.00,,
"""


def test_ethtool():
    d = parse_ethtool(ETHTOOL)
    assert d == {"rx_queue_0_packets": 1203, "rx_queue_0_bytes": 1706404, "tx_queue_0_packets": 1646,
                 "tx_queue_0_kicks": 900}


def test_snmp_nstat_names():
    d = parse_snmp(SNMP)
    assert d["UdpOutDatagrams"] == 12013 and d["IpInReceives"] == 1204 and d["TcpExtTCPHPHits"] == 77
    assert d["Ip6OutRequests"] == 7


def test_softnet_sums_hex_columns_over_cpus():
    d = parse_softnet(SOFTNET)
    assert d["processed"] == 0x30 and d["dropped"] == 1 and d["time_squeeze"] == 3 and d["flow_limit_count"] == 1


def test_link_json():
    d = parse_link_json(LINK)
    assert d["tx_packets"] == 2 and d["tx_bytes"] == 3000 and d["rx_packets"] == 2


def test_snapshot_sections_and_delta():
    text = (f"@@ softnet -\n{SOFTNET}@@ stat -\ncpu  100 0 50 1000 5 0 7 0 0 0\n@@ ethtool a\n{ETHTOOL}"
            f"@@ link a\n{LINK}\n@@ snmp b\n{SNMP}")
    pre = parse_snapshot(text)
    assert pre["a.ethtool.tx_queue_0_kicks"] == 900 and pre["b.snmp.UdpInDatagrams"] == 10
    assert pre["softnet.processed"] == 0x30 and pre["stat.softirq"] == 7 and pre["a.link.tx_packets"] == 2
    post = dict(pre, **{"a.ethtool.tx_queue_0_kicks": 1000})
    d = delta(pre, post)
    assert d["a.ethtool.tx_queue_0_kicks"] == 100 and d["softnet.processed"] == 0


def test_perf_csv():
    d = parse_perf_csv(PERF)
    assert d == {"cpu-clock": 6012.34, "net:net_dev_xmit": 2200, "cycles": None}


def test_perf_argv_keeps_command_as_argv():
    argv = perf_argv(["a", "b:c"], "/lab/x.csv", ["sh", "-ec", "echo $HOME; rm -rf /"])
    assert argv[:8] == ["perf", "stat", "-a", "-x", ",", "-o", "/lab/x.csv", "-e"] and argv[8] == "a,b:c"
    assert argv[-3:] == ["sh", "-ec", "echo $HOME; rm -rf /"]


def test_collect_values_seen_only_after_the_run_count_from_zero():
    d = delta({"a.link.tx_packets": 5}, {"a.link.tx_packets": 9, "x.collect.sink_datagrams": 40, "b.link.new": 3})
    assert d == {"a.link.tx_packets": 4, "x.collect.sink_datagrams": 40}


def test_no_events_runs_the_command_without_perf():
    assert perf_argv([], "/lab/x.csv", ["sh", "-ec", "true"]) == ["sh", "-ec", "true"]


def test_profile_windows_attribute_each_instruction_to_its_function():
    from lab.metrics.profile import Symbols, attribute, parse_windows, per_packet
    kallsyms = ("ffffffff81000000 T _stext\nffffffff81001000 T start_xmit\nffffffff81001400 t free_old_xmit\n"
                "ffffffff81002000 D some_data\n0000000000000000 T hidden\n")
    plugin = ("W 0 10\nffffffff810013f8 3 2 0 4 8\nE\n"          # 1st: warm-up window
              "W 1 1000\n"
              "ffffffff810013f8 3 40 0 4 8\n"                    # (hex) 64 runs, crosses into free_old_xmit at +8
              "ffffffff81001000 2 64 0 3\n"                      # 100 runs
              "401000 4 32 0 1 2 3\n"                             # user space, 50 runs
              "E\nW 2 5\nffffffff81001000 1 1 0\n")              # a window still being written
    windows = parse_windows(plugin)
    assert [w.index for w in windows] == [0, 1] and windows[1].total == 1000
    counts = attribute(windows[1], Symbols(kallsyms))
    assert counts == {"start_xmit": 2 * 64 + 2 * 100, "free_old_xmit": 64, "[user]": 200}
    per = per_packet(counts, packets=100, floor=0.7)
    assert per == {"start_xmit": 3.28, "[user]": 2.0, "(other)": 0.64}  # free_old_xmit under the floor
    assert abs(sum(per.values()) - sum(counts.values()) / 100) < 1e-9
