"""Counter snapshots and deltas (lab/metrics/counters.py)."""
import json

from lab.metrics.counters import delta, parse_ethtool, parse_link_json, parse_snapshot, parse_snmp, parse_softnet

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


def test_collect_values_seen_only_after_the_run_count_from_zero():
    d = delta({"a.link.tx_packets": 5}, {"a.link.tx_packets": 9, "x.collect.sink_datagrams": 40, "b.link.new": 3})
    assert d == {"a.link.tx_packets": 4, "x.collect.sink_datagrams": 40}
