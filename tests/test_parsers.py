"""Workload output parsers."""
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
