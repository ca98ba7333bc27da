"""Statistics with fixed samples, comparisons, schedules, and the HTML report."""
import math
import re
from html.parser import HTMLParser

import pytest

from lab.plan import schedule
from lab.report.table import render_pairs
from lab.results.compare import compare
from lab.results.rundir import RunDir
from lab.results.stats import summarize, t_quantile, welch, welch_interval


@pytest.mark.parametrize("df,t", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423), (1000, 1.9623)])
def test_t_quantiles_match_tables(df, t):
    assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-3)


def test_summary():
    s = summarize([10, 12, 14])
    assert (s.n, s.median, s.mean, s.stdev) == (3, 12, 12, 2) and s.cv_pct == pytest.approx(16.667, abs=1e-3)
    assert s.noisy and not summarize([100, 101, 99]).noisy


def test_welch_known_interval():
    # A = [10, 12, 14], B = [20, 22, 24]: diff 10, se = sqrt(4/3 + 4/3) = 1.633, df = 4, t = 2.7764
    diff, half, df, _ = welch_interval(summarize([10, 12, 14]), summarize([20, 22, 24]))
    assert (diff, df) == (pytest.approx(10.0), pytest.approx(4.0)) and half == pytest.approx(2.7764 * (8 / 3) ** 0.5,
                                                                                             abs=1e-3)
    # the verdict's interval is the ratio's on the log scale: relative sds 2/12 and 2/22, se = sqrt((1/36 + 1/121)/3)
    c = welch([10, 12, 14], [20, 22, 24])
    se = ((1 / 36 + 1 / 121) / 3) ** 0.5
    df = (1 / 36 + 1 / 121) ** 2 / 3 ** 2 / (((1 / 36) ** 2 + (1 / 121) ** 2) / 3 ** 2 / 2)
    t = t_quantile(0.975, df)
    assert c.df == pytest.approx(df) and c.method == "welch-t log ratio"
    assert c.change_pct == pytest.approx(100 * 10 / 12)
    assert c.ci_low_pct == pytest.approx(100 * (22 / 12 * math.exp(-t * se) - 1), rel=1e-9)
    assert c.ci_high_pct == pytest.approx(100 * (22 / 12 * math.exp(t * se) - 1), rel=1e-9)
    assert c.verdict == "faster"
    assert welch([10, 12, 14], [20, 22, 24], higher_is_better=False).verdict == "slower"


def test_welch_not_significant_and_min_effect():
    assert welch([10, 12, 14], [11, 13, 15]).verdict == "not significant"       # CI spans 0
    assert welch([100.0, 100.1, 100.2], [101.0, 101.1, 101.2]).verdict == "not significant"  # 1 % < min effect
    assert welch([1.0], [2.0]).verdict == "insufficient data"


def rec(run, cell, kernel, link, params, value, pkts=1000, xmit=1000):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": link, "params": params,
            "status": "ok", "value": value, "metric": "throughput", "unit": "Gbit/s", "higher_is_better": True,
            "started": "2026-11-23T02:00:00", "derived": {"tx_packets": pkts}, "counters": {"a.link.tx_packets": pkts},
            "perf": {"net:net_dev_xmit": xmit}}


def test_compare_by_kernel_with_counter_movers():
    recs = []
    for i, (va, vb) in enumerate([(1.0, 1.5), (1.1, 1.6), (0.9, 1.4), (1.0, 1.55)]):
        recs.append(rec("r", 2 * i, "stock", "virtio0", {"size": 64}, va, xmit=1000))
        recs.append(rec("r", 2 * i + 1, "patched", "virtio0", {"size": 64}, vb, xmit=2000 + i))
    pairs = compare(recs)
    assert len(pairs) == 1
    p = pairs[0]
    assert (p.dimension, p.a, p.b) == ("kernel", "stock", "patched") and p.result.verdict == "faster"
    assert p.counters[0][0] == "net:net_dev_xmit/pkt" and p.counters[0][1].change_pct > 90
    text = render_pairs(pairs)
    assert "stock -> patched" in text and "faster" in text and "net:net_dev_xmit/pkt" in text


def test_compare_by_axis_pairs_within_context():
    recs = [rec("r", i, "k", link, {"offload": off}, v) for i, (link, off, v) in enumerate(
        [("virtio0", "on", 3), ("virtio0", "off", 1), ("e1000e1", "on", 2), ("e1000e1", "off", 2),
         ("virtio0", "on", 3.1), ("virtio0", "off", 1.1), ("e1000e1", "on", 2.1), ("e1000e1", "off", 2.1)])]
    pairs = compare(recs, by="offload")
    assert [(p.context, p.result.verdict) for p in pairs] == [({"link": "virtio0"}, "slower"),
                                                             ({"link": "e1000e1"}, "not significant")]
    with pytest.raises(Exception, match="cannot compare by 'nope'"):
        compare(recs, by="nope")


def test_rotation_puts_every_variant_in_every_position():
    from lab.plan import rotate
    cells = ["A", "B", "C"]
    orders = [rotate(cells, r) for r in range(3)]
    assert orders == [["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"]]
    for pos in range(3):
        assert {o[pos] for o in orders} == set(cells)


def test_schedule_interleaves_kernels():
    assert schedule(2, 5, 2) == [(0, [0, 2, 4]), (1, [0, 2, 4]), (0, [1, 3]), (1, [1, 3])]
    assert schedule(1, 3, 1) == [(0, [0, 1, 2])]
    assert schedule(2, 1, 2) == [(0, [0]), (1, [0])]


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(v for k, v in attrs if k == "id")


def test_html_report_has_every_section(tmp_path):
    from lab.report.html import render_report
    dirs = []
    for run in range(2):
        rd = RunDir.create(tmp_path / "runs", f"t{run}")
        rd.update_manifest(accel="tcg", mode="wallclock", status="ok", qemu_argv=["qemu-system-x86_64", "-m", "2G"],
                           kernels=[{"name": "stock", "release": "6.1", "sha256": "ab" * 32, "build": {}}],
                           host={"host_machine": "x86_64", "host_cpus": 2})
        for i in range(3):
            rd.append_result(rec(rd.id, 2 * i, "stock", "virtio0", {"offload": "on"}, 3 + 0.1 * i + run))
            rd.append_result(rec(rd.id, 2 * i + 1, "stock", "virtio0", {"offload": "off"}, 1 + 0.1 * i, xmit=3000 + i))
        rd.append_result({**rec(rd.id, 9, "stock", "virtio0", {"offload": "on"}, 0), "status": "crash",
                          "error": "guest kernel panic: <script>x</script>", "fingerprint": "panic:foo/bar"})
        dirs.append(rd.path)
    out = tmp_path / "report.html"
    render_report(dirs, out, by="offload")
    html = out.read_text()
    p = _Collect()
    p.feed(html)
    assert {"tc-t", "verdicts-t", "plots-t", "history-t", "counters-t", "failures", "cells", "manifest"} <= p.ids
    assert html.count("<svg") >= 3 and "slower" in html and "panic:foo/bar" in html
    assert "<script>x</script>" not in html  # autoescaped
    assert re.search(r'href="runs/[^"]+/console.log"', html)


def test_shards_cover_every_cell_exactly_once():
    from types import SimpleNamespace

    from lab.plan import plan, shard_cells
    from lab.vm.links import make_links
    tc = SimpleNamespace(repeat=5, cells=lambda: [{"s": 64}, {"s": 512}, {"s": 1500}])
    cells = plan(tc, 2, make_links(["virtio", "e1000e"]), 2)
    assert [c.n for c in cells] == list(range(1, 61))
    for n in (1, 2, 3, 4, 7):
        seen = [c.n for i in range(1, n + 1) for c in shard_cells(cells, f"{i}/{n}")]
        assert sorted(seen) == list(range(1, 61))
    with pytest.raises(Exception, match="expected I/N"):
        shard_cells(cells, "x")
    with pytest.raises(Exception, match="between 1 and N"):
        shard_cells(cells, "5/4")


def test_gate_fails_on_functional_failure_and_regression():
    from lab.gate import gate
    prev = [rec("p", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([10, 10.2, 9.9, 10.1])]
    same = [rec("c", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([10.1, 9.9, 10, 10.2])]
    worse = [rec("c", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([8, 8.1, 7.9, 8.2])]
    assert gate(same, prev, gate_wallclock=True).ok is True
    res = gate(worse, prev, gate_wallclock=True)
    assert res.ok is False and any(l.startswith("REGRESSION vs previous night: throughput") for l in res.lines)
    # by default wall-clock pairs are reported, not gated: -20 % under TCG noise is a lead, not a verdict
    res = gate(worse, prev)
    assert res.ok is True and any(l.startswith("reported, not gated (wallclock)") and "slower" in l for l in res.lines)
    broken = same + [dict(rec("c", 9, "stock", "virtio0", {"size": 64}, 0), status="failed", error="no carrier")]
    res = gate(broken, [])
    assert res.ok is False and any("no carrier" in l for l in res.lines)
    retried_then_ok = [dict(same[0], status="failed", retried=True, error="first attempt failed"), dict(same[0],
                                                                                                        status="ok")]
    assert gate(retried_then_ok, []).ok is True
    ok_then_failed = [dict(same[0], status="ok"), dict(same[0], status="failed", error="second attempt failed")]
    assert gate(ok_then_failed, []).ok is False  # the final attempt decides


def test_deterministic_records_call_a_one_percent_change_significant():
    from lab.results.compare import compare
    rec = lambda k, v, mode: {"status": "ok", "kernel": {"name": k}, "link": "virtio0", "params": {}, "value": v,
                              "mode": mode, "run_id": "r", "higher_is_better": True}
    a, b = [1000.0, 1001.0, 999.0], [985.0, 984.0, 986.0]  # -1.5 %, tight
    for mode, verdict in (("deterministic", "slower"), ("wallclock", "not significant")):
        [p] = compare([rec("A", v, mode) for v in a] + [rec("B", v, mode) for v in b], by="kernel")
        assert p.result.verdict == verdict, (mode, p.result)
