"""Testcase YAML validation: file:line, key and what is allowed; shell quoting of values."""
import subprocess
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.vm.links import make_links
from lab.workloads import load_testcase
from lab.workloads.render import render

ROOT = Path(__file__).resolve().parent.parent
GOOD = """name: t
parser: iperf3
metric: {name: throughput, unit: Gbit/s}
run: echo hi
"""


def write(tmp_path, text):
    p = tmp_path / "tc.yaml"
    p.write_text(text)
    return p


def test_shipped_testcases_validate():
    for p in sorted((ROOT / "testcases").glob("*.yaml")):
        tc = load_testcase(p)
        assert tc.cells(), p


def test_defaults_and_cells(tmp_path):
    tc = load_testcase(write(tmp_path, GOOD + "axes: {proto: [tcp, udp], size: [64, 1500]}\n"))
    assert [m.name for m in tc.links] == ["virtio", "e1000e"] and tc.duration == 5 and tc.repeat == 1
    assert tc.cells() == [{"proto": "tcp", "size": 64}, {"proto": "tcp", "size": 1500},
                          {"proto": "udp", "size": 64}, {"proto": "udp", "size": 1500}]


@pytest.mark.parametrize("extra,needle", [
    ("duraton: 5\n", ":5: duraton: unknown key; allowed: name, description"),
    ("duration: fast\n", ":5: duration: expected integer or number, got str 'fast'"),
    ("duration: 0\n", ":5: duration: 0 is out of range; allowed 1..3600"),
    ("repeat: 2.5\n", ":5: repeat: expected integer"),
    ("links: [virtio, rtl8139]\n", ":5: links.1: unknown NIC model 'rtl8139'; known models: virtio, e1000e"),
    ("axes: {size: 64}\n", ":5: axes.size: expected list"),
    ("metric: {name: x}\n", "metric: missing required key 'unit'"),
    ("perf: {events: [1]}\n", "perf.events.0: expected string"),
])
def test_bad_values_name_file_line_key(tmp_path, extra, needle):
    text = GOOD.replace("metric: {name: throughput, unit: Gbit/s}\n", "") + extra if extra.startswith("metric") else GOOD + extra
    if extra.startswith("metric"):
        needle = needle
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_testcase(p)
    assert str(p) in str(e.value) and needle in str(e.value)


def test_exclude_drops_axis_points(tmp_path):
    tc = load_testcase(write(tmp_path, GOOD + "axes: {mode: [a, b], burst: [1, 8]}\nexclude: [{mode: b, burst: 8}]\n"))
    assert tc.cells() == [{"mode": "a", "burst": 1}, {"mode": "a", "burst": 8}, {"mode": "b", "burst": 1}]
    with pytest.raises(ConfigError, match=r"exclude.0.nope: not an axis; axes: mode"):
        load_testcase(write(tmp_path, GOOD + "axes: {mode: [a]}\nexclude: [{nope: 1}]\n"))


def test_unknown_parser_lists_known(tmp_path):
    with pytest.raises(ConfigError, match=r"tc.yaml:2: parser: unknown parser 'nope'; known: iperf3, json"):
        load_testcase(write(tmp_path, GOOD.replace("parser: iperf3", "parser: nope")))


def test_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError, match=r"tc.yaml:3: YAML syntax error"):
        load_testcase(write(tmp_path, "name: t\nrun: x\n  bad: [\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read testcase"):
        load_testcase("/nonexistent/tc.yaml")


def test_values_with_shell_metacharacters_are_data(tmp_path):
    """A value like `$(touch X)` or `; rm` reaches the command as one literal argument, never as code."""
    marker = tmp_path / "pwned"
    evil = f"x; touch {marker}; $(touch {marker}) `touch {marker}`"
    script = render("printf '%s\\n' {{ params.v }} {{ link.ns_a }}\n", {"params": {"v": evil}, "link": make_links(["virtio"])[0].template_vars()})
    out = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [evil, "virtio0a"]
    assert not marker.exists()


def test_raw_and_args_filters():
    s = render("echo {{ xs | args }} {{ code | raw }}", {"xs": ["a b", "c"], "code": "$((1+1))"})
    assert s.rstrip().endswith("echo 'a b' c $((1+1))")


def test_links_and_axis_narrow_a_testcase_or_name_what_exists():
    from lab.cli import _axis
    from lab.plan import apply_overrides
    tc = load_testcase(ROOT / "testcases/xsk.yaml")
    apply_overrides(tc, links=["virtio"], axes=dict([_axis("size=64,1500")]))
    assert [m.name for m in tc.links] == ["virtio"] and tc.axes["size"] == [64, 1500]
    with pytest.raises(ConfigError, match="known models: virtio, e1000e"):
        apply_overrides(tc, links=["rtl8139"])
    with pytest.raises(ConfigError, match="has axes size"):
        apply_overrides(tc, axes={"alg": ["gcm"]})
    with pytest.raises(ConfigError, match="expected NAME=V1,V2"):
        _axis("size")


def test_templates_see_the_measurement_mode():
    tc = load_testcase(ROOT / "testcases/xsk.yaml")
    ctx = {"link": make_links(["virtio"])[0].template_vars(), "params": {"size": 64}, "duration": 2, "cell_dir": "/c",
           "links": []}
    assert "-p 500" in render(tc.run, {**ctx, "mode": "deterministic"})
    assert "-p 500" not in render(tc.run, {**ctx, "mode": "wallclock"})
    assert "tx-frames 0" in render(tc.setup, {**ctx, "mode": "deterministic"})


def test_deterministic_mode_skips_only_perf_expectations():
    from lab.metrics.derived import check_expectations
    rec = {"nic_model": "virtio", "link": "virtio0", "kernel": {"name": "stock"}, "params": {}, "mode": "deterministic",
           "counters": {"a.link.tx_packets": 100}, "derived": {"tx_packets": 100}, "perf": {}}
    expect = [{"when": {}, "counter": "dplab:skb_store_bits/pkt", "min": 0.8, "max": None, "why": "path"},
              {"when": {}, "counter": "x.collect.sa_bytes/pkt", "min": 500, "max": None, "why": "SA"}]
    bad = check_expectations(rec, expect)
    assert len(bad) == 1 and bad[0].startswith("x.collect.sa_bytes/pkt was not measured")
