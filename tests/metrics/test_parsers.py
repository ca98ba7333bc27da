"""Workload output parsers (lab/metrics/parsers.py)."""
import json

import pytest

from lab.errors import LabError
from lab.metrics.parsers import iperf3, json_line

TCP = {"start": {"test_start": {"protocol": "TCP"}},
       "end": {"sum_sent": {"bits_per_second": 2.1e8, "bytes": 80000000, "retransmits": 3, "seconds": 3.0},
               "sum_received": {"bits_per_second": 1.98e8, "bytes": 79000000},
               "cpu_utilization_percent": {"host_total": 40.0, "remote_total": 55.0}}}


UDP = {"start": {"test_start": {"protocol": "UDP"}},
       "end": {"sum": {"bits_per_second": 4.1e7, "bytes": 15000000, "packets": 10700, "lost_packets": 12,
                       "lost_percent": 0.11, "seconds": 3.0}}}


def test_iperf3_tcp_uses_receiver():
    d = iperf3(json.dumps(TCP))
    assert d["value"] == pytest.approx(0.198) and d["retransmits"] == 3 and d["cpu_receiver_pct"] == 55.0


def test_iperf3_udp():
    d = iperf3("some noise\n" + json.dumps(UDP, indent=1))
    assert d["value"] == pytest.approx(0.041) and d["packets"] == 10700 and d["lost_packets"] == 12


def test_iperf3_error_is_reported():
    with pytest.raises(LabError, match="unable to connect"):
        iperf3(json.dumps({"start": {}, "error": "unable to connect to server"}))


def test_json_line_needs_value():
    assert json_line('log\n{"value": 3, "pps": 3}\n')["pps"] == 3
    with pytest.raises(LabError):
        json_line("no json here")


PKTGEN = """Params: count 0  min_pkt_size: 60  max_pkt_size: 60
     frags: 0  delay: 0  clone_skb: 0  ifname: eth0
     flows: 0 flowlen: 0
     queue_map_min: 0  queue_map_max: 0
     dst_min: 198.18.0.2  dst_max:
     src_min:   src_max:
     src_mac: 52:54:00:d1:00:0a dst_mac: 52:54:00:d1:00:0b
     udp_src_min: 9  udp_src_max: 9  udp_dst_min: 9  udp_dst_max: 9
     src_mac_count: 0  dst_mac_count: 0
     burst: 32
     Flags:
Current:
     pkts-sofar: 241472  errors: 0
     started: 1234us  stopped: 5678us idle: 12us
Result: OK: 3000123(c2999000+d1123) usec, 241472 (60byte,0frags)
  80486pps 38Mb/sec (38633280bps) errors: 0
"""


def test_pktgen_result():
    from lab.metrics.parsers import pktgen
    d = pktgen(PKTGEN)
    assert d == {"value": 80486.0, "packets": 241472, "size": 60, "usec": 3000123, "mbps": 38, "errors": 0}
    with pytest.raises(LabError, match="pktgen: no result"):
        pktgen("Result: Idle\n")


def test_iperf3_without_a_received_sum_is_an_error_not_zero():
    import json

    import pytest

    from lab.errors import LabError
    from lab.metrics.parsers import iperf3
    tcp = {"start": {"test_start": {"protocol": "TCP"}},
           "end": {"sum_sent": {"bits_per_second": 1e9, "retransmits": 0}}}
    with pytest.raises(LabError, match="no received sum"):
        iperf3(json.dumps(tcp))
    udp = {"start": {"test_start": {"protocol": "UDP"}}, "end": {"streams": []}}
    with pytest.raises(LabError, match="no received sum for UDP"):
        iperf3(json.dumps(udp))
