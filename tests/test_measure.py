"""A cell's value (lab/measure.py): a finite number or the cell fails."""
import pytest

from lab.errors import LabError
from lab.results.rundir import RunDir, load_results
from tests.support import ROOT


def test_non_finite_numbers_never_reach_a_record(tmp_path):
    from lab.measure import parse_value
    from lab.modes import WALLCLOCK
    from lab.workloads import load_testcase
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0, "extra": {"x": float("nan"), "y": [float("inf")]}})
    [r] = load_results(rd.path)  # strict JSON: no NaN token
    assert r["extra"] == {"x": None, "y": [None]}
    tc = load_testcase(ROOT / "testcases/udpgso.yaml")  # parser json
    for out in ('{"value": NaN}', '{"value": "fast"}', '{"value": Infinity}', "[1, 2]"):
        with pytest.raises(LabError, match="parser json"):
            parse_value(tc, out, WALLCLOCK)


def test_a_testcase_may_parse_each_mode_with_its_own_tool():
    """tunnel.yaml: iperf3 in wall clock, udpgso_tx's JSON in deterministic mode; a mapping that names an unknown
    mode or parser, or forgets the default mode's, is refused naming the key."""
    from lab.errors import ConfigError
    from lab.measure import parse_value
    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases/tunnel.yaml")
    assert (tc.parser_for("wallclock"), tc.parser_for("deterministic")) == ("iperf3", "json")
    assert parse_value(tc, '{"value": 5.0, "datagrams": 10}', DETERMINISTIC)["value"] == 5.0
    with pytest.raises(LabError, match="parser iperf3"):
        parse_value(tc, '{"value": 5.0}', WALLCLOCK)
    text = (ROOT / "testcases/tunnel.yaml").read_text()
    for bad, msg in (("{wallclock: iperf3, fast: json}", "unknown measurement mode 'fast'"),
                     ("{wallclock: iperf3, deterministic: nope}", "parser.deterministic: unknown parser 'nope'"),
                     ("{deterministic: json}", "names the wallclock mode's parser too")):
        with pytest.raises(ConfigError, match=msg):
            load_testcase(ROOT / "testcases/tunnel.yaml",
                          text=text.replace("{wallclock: iperf3, deterministic: json}", bad))
