"""perf stat around the workload (lab/metrics/perf.py)."""
from lab.metrics.perf import parse_perf_csv, perf_argv

PERF = """# started on Mon Nov 23 02:13:40 2026

6012.34,msec,cpu-clock,6012345678,100.00,2.000,CPUs utilized
2200,,net:net_dev_xmit,6012345678,100.00,,
<not supported>,,cycles,0,100.00,,
"""


def test_perf_csv():
    d = parse_perf_csv(PERF)
    assert d == {"cpu-clock": 6012.34, "net:net_dev_xmit": 2200, "cycles": None}


def test_perf_argv_keeps_command_as_argv():
    argv = perf_argv(["a", "b:c"], "/lab/x.csv", ["sh", "-ec", "echo $HOME; rm -rf /"])
    assert argv[:8] == ["perf", "stat", "-a", "-x", ",", "-o", "/lab/x.csv", "-e"] and argv[8] == "a,b:c"
    assert argv[-3:] == ["sh", "-ec", "echo $HOME; rm -rf /"]


def test_no_events_runs_the_command_without_perf():
    assert perf_argv([], "/lab/x.csv", ["sh", "-ec", "true"]) == ["sh", "-ec", "true"]
