"""A/B pairs (lab/results/compare.py): what is paired, verdicts by mode, counters that moved."""
import random

import pytest

from lab.errors import ConfigError
from lab.report.table import render_pairs
from lab.results.compare import compare, dims
from tests.support.records import throughput_rec, xsk_rec


def test_compare_by_kernel_with_counter_movers():
    recs = []
    for i, (va, vb) in enumerate([(1.0, 1.5), (1.1, 1.6), (0.9, 1.4), (1.0, 1.55)]):
        recs.append(throughput_rec("r", 2 * i, "stock", "virtio0", {"size": 64}, va, xmit=1000))
        recs.append(throughput_rec("r", 2 * i + 1, "patched", "virtio0", {"size": 64}, vb, xmit=2000 + i))
    pairs = compare(recs)
    assert len(pairs) == 1
    p = pairs[0]
    assert (p.dimension, p.a, p.b) == ("kernel", "stock", "patched") and p.result.verdict == "faster"
    assert p.counters[0][0] == "net:net_dev_xmit/pkt" and p.counters[0][1].change_pct > 90
    text = render_pairs(pairs)
    assert "stock -> patched" in text and "faster" in text and "net:net_dev_xmit/pkt" in text


def test_compare_by_axis_pairs_within_context():
    recs = [throughput_rec("r", i, "k", link, {"offload": off}, v) for i, (link, off, v) in enumerate(
        [("virtio0", "on", 3), ("virtio0", "off", 1), ("e1000e1", "on", 2), ("e1000e1", "off", 2),
         ("virtio0", "on", 3.1), ("virtio0", "off", 1.1), ("e1000e1", "on", 2.1), ("e1000e1", "off", 2.1)])]
    pairs = compare(recs, by="offload")
    assert [(p.context, p.result.verdict) for p in pairs] == [({"link": "virtio0"}, "slower"),
                                                             ({"link": "e1000e1"}, "not significant")]
    with pytest.raises(Exception, match="cannot compare by 'nope'"):
        compare(recs, by="nope")


def test_deterministic_records_call_a_one_percent_change_significant():
    from lab.results.compare import compare
    rec = lambda k, v, mode: {"status": "ok", "kernel": {"name": k}, "link": "virtio0", "params": {}, "value": v,
                              "mode": mode, "run_id": "r", "higher_is_better": True}
    a, b = [1000.0, 1001.0, 999.0], [985.0, 984.0, 986.0]  # -1.5 %, tight
    for mode, verdict in (("deterministic", "slower"), ("wallclock", "not significant")):
        [p] = compare([rec("A", v, mode) for v in a] + [rec("B", v, mode) for v in b], by="kernel")
        assert p.result.verdict == verdict, (mode, p.result)


def _rec(kernel, value, cell, unit="Gbit/s", counters=None, run="r"):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": "virtio0",
            "nic_model": "virtio", "params": {}, "status": "ok", "value": value, "metric": "throughput", "unit": unit,
            "higher_is_better": True, "mode": "wallclock", "counters": counters or {}, "derived": {"tx_packets": 1000}}


def test_counters_from_zero_move_units_never_pair_and_nan_is_left_out():
    from lab.results.compare import compare
    a = [_rec("A", 1.0 + i / 100, i, counters={"b.link.rx_errors": 0, "a.link.tx_packets": 1000}) for i in range(3)]
    b = [_rec("B", 1.0 + i / 100, 10 + i, counters={"b.link.rx_errors": 40,
                                                    "a.link.tx_packets": 1000}) for i in range(3)]
    [p] = compare(a + b + [_rec("B", float("nan"), 20)], by="kernel")
    assert p.result.b.n == 3  # the NaN record is not a sample
    [(name, c)] = p.counters
    assert "rx_errors" in name and c.verdict == "new" and c.b.median > 0
    mbit = [_rec("B", 1000.0 + i, 30 + i, unit="Mbit/s") for i in range(3)]
    assert compare(a + mbit, by="kernel") == []  # Gbit/s beside Mbit/s is no -99.9 % regression




def test_counters_that_moved_hold_the_false_discovery_rate():
    """300 counters that do not move (and one that does): uncorrected, about 5 % of them would be listed."""
    rng = random.Random(3)
    recs = []
    for i, kernel in enumerate(["A"] * 4 + ["B"] * 4):
        counters = {f"a.ethtool.c{j}": rng.gauss(1000, 50) for j in range(300)}
        counters["a.ethtool.kicks"] = 100 if kernel == "A" else 300 + rng.random()
        counters["a.link.tx_packets"] = 1000
        r = xsk_rec(kernel, rng.gauss(10, 0.1), mode="wallclock", cell=i)
        r.update(counters=counters, derived={"tx_packets": 1000})
        recs.append(r)
    [p] = compare(recs, by="kernel")
    names = [n for n, _ in p.counters]
    assert names == ["a.ethtool.kicks/pkt"], names


def test_compare_never_mixes_modes():
    from lab.results.compare import compare
    base = {"run_id": "r", "kernel": {"name": "k"}, "link": "virtio0", "params": {}, "status": "ok", "value": 1.0}
    recs = [dict(base, cell=i, mode=m, value=v) for i, (m, v) in enumerate(
        [("wallclock", 1.0), ("wallclock", 1.1), ("deterministic", 5.0), ("deterministic", 5.1)])]
    assert dims(recs[2])["mode"] == "deterministic" and dims(recs[0])["mode"] == "wallclock"
    with pytest.raises(ConfigError, match="never compares across measurement modes"):
        compare(recs, by="mode")
    assert compare(recs) == []  # no dimension pairs a wallclock record with a deterministic one
