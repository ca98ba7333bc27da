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


def test_a_testcase_may_raise_its_modes_minimum_effect_and_the_comparison_reads_it():
    """tunnel declares min_effect {deterministic: 0.5}: its deterministic records carry it and a 0.4 % change, tight
    as it is, is not called a change (the mode's own floor is 0.3 %); a bad entry is refused naming the key."""
    from types import SimpleNamespace

    from lab.errors import ConfigError
    from lab.measure import cell_record
    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.plan import Cell
    from lab.results.compare import compare
    from lab.vm.links import make_links
    from lab.workloads import load_testcase
    from tests.support.records import xsk_rec
    tc = load_testcase(ROOT / "testcases/tunnel.yaml")
    link = make_links(["virtio"])[0]
    kernel = SimpleNamespace(name="k", release="6.1", sha256="0" * 64, build={}, variant=None)
    rundir = SimpleNamespace(id="r")  # cell_record reads only the run's id
    for mode, want in ((DETERMINISTIC, 0.5), (WALLCLOCK, None)):
        rec = cell_record(rundir, tc, kernel, link, SimpleNamespace(accel="tcg", cpu="max", mode=mode),
                          Cell(1, 0, 0, 0, link, {}), 1)
        assert rec.get("min_effect_pct") == want
    a = [xsk_rec("a", 1000.0 + i / 100, cell=i) for i in range(3)]
    b = [xsk_rec("b", 1004.0 + i / 100, cell=10 + i) for i in range(3)]
    assert compare(a + b, by="kernel", baseline="a")[0].result.verdict == "faster"  # +0.4 %, 0.3 % floor
    floor = [dict(r, min_effect_pct=0.5) for r in a + b]
    assert compare(floor, by="kernel", baseline="a")[0].result.verdict != "faster"
    text = (ROOT / "testcases/tunnel.yaml").read_text()
    with pytest.raises(ConfigError, match="min_effect.fast: expected a known mode"):
        load_testcase(ROOT / "testcases/tunnel.yaml", text=text.replace("{deterministic: 0.5}", "{fast: 0.5}"))


def test_a_failed_cell_says_the_testcases_own_words_on_the_console():
    """A guest command that failed: the console line is the last thing it wrote on stderr (the testcase's own
    reason), not the command; any other error: its first line."""
    from lab.errors import GuestError
    from lab.measure import why
    said = "+ setup\ndrop=none needs b's NIC to drop frames for another MAC\n\n"
    err = GuestError(f"guest command failed (rc=1): sh -ec '# dplab guest helpers ...'\n--- stderr ---\n{said}",
                     console_tail="[  1.0] a console line", stderr=said)
    assert why(err) == "drop=none needs b's NIC to drop frames for another MAC"
    assert why(GuestError("guest command failed (rc=2): x\n--- stdout ---\nout\n--- stderr ---\n", stderr="")) == \
        "guest command failed (rc=2): x"
    assert why(LabError("command timed out after 30s: ip -n x link show\nmore")) == \
        "command timed out after 30s: ip -n x link show"
