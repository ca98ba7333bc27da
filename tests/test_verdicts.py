"""Verdicts one can bet a merge on: the gate's pairs and error rates, statistics at their edges."""
import random

import pytest

from lab.errors import ConfigError
from lab.gate import gate
from lab.results.compare import compare, dims
from lab.results.stats import benjamini_hochberg, holm, summarize, t_pvalue, t_quantile, welch, welch_interval


def rec(kernel, value, mode="deterministic", run="r", cell=0, sha=None, accel="tcg", cpu="max", **params):
    return {"run_id": run, "cell": cell, "testcase": "xsk", "kernel": {"name": kernel, "sha256": sha or kernel * 8},
            "link": "virtio0", "nic_model": "virtio", "params": params or {"size": 64}, "status": "ok", "value": value,
            "metric": "tx rate", "unit": "pkts/cpu-s", "higher_is_better": True, "mode": mode, "accel": accel,
            "cpu_model": cpu}


def series(kernel, level, cv_pct, n, rng, **kw):
    # a run numbers its cells once
    return [rec(kernel, rng.gauss(level, level * cv_pct / 100), cell=f"{kernel}-{i}", **kw) for i in range(n)]


def test_gate_never_pools_two_kernels_of_a_night():
    """Last night's two XSK kernels sit at different levels; tonight one is 10 % slower. Pooled by run (the old
    grouping dropped the kernel), the interval spanned -53 %..+46 % and the gate passed."""
    rng = random.Random(5)
    last = series("stock", 3.97e5, 0.3, 3, rng, run="n1") + series("xsk-copy-path", 4.55e5, 0.3, 3, rng, run="n1")
    tonight = series("stock", 3.97e5, 0.3, 3, rng, run="n2") + series("xsk-copy-path", 0.9 * 4.55e5, 0.3, 3, rng,
                                                                      run="n2")
    res = gate(tonight, last)
    assert not res.ok
    [bad] = res.regressions
    assert bad.startswith("REGRESSION") and "kernel=xsk-copy-path" in bad and "-10." in bad


def test_a_kernel_rebuilt_between_nights_is_still_paired_by_name():
    rng = random.Random(6)
    last = series("stock", 1e5, 0.2, 3, rng, run="n1", sha="a" * 64)
    tonight = series("stock", 0.95e5, 0.2, 3, rng, run="n2", sha="b" * 64)  # a patch changed it: the point of the gate
    assert not gate(tonight, last).ok


def test_accelerator_cpu_model_and_mode_are_never_mixed():
    rng = random.Random(7)
    tcg = series("k", 100, 1, 3, rng, mode="wallclock")
    kvm = series("k", 200, 1, 3, rng, mode="wallclock", accel="kvm")
    assert compare(tcg + kvm) == []  # nothing to pair: the only difference is the accelerator
    for by in ("accel", "cpu", "mode"):
        with pytest.raises(ConfigError, match="never compares across"):
            compare(tcg + kvm, by=by)
    assert dims(kvm[0])["accel"] == "kvm" and dims(kvm[0])["cpu"] == "max"
    # a gate night on KVM against a TCG night: no pair, no verdict
    assert gate(kvm, tcg, gate_wallclock=True).ok and not any("REGRESSION" in l for l in gate(kvm, tcg).lines)


def test_simulated_nights_false_fail_rate_and_a_regression_flagged_until_fixed():
    from lab.bench.gate_sim import run_nights
    # 100 nights without any change: wall clock at CV 5-15 % gating too (Holm), deterministic at CV 0.1-0.4 %
    assert 100 - sum(run_nights(100, seed=11, gate_wallclock=True)) <= 5
    # one kernel 3 % slower in deterministic mode from night 3 to night 7, fixed on night 8
    slow = lambda i: {("deterministic", "xsk-copy-path"): 0.03} if 3 <= i <= 7 else None
    verdicts = run_nights(12, seed=12, slowdown_on=slow)
    assert verdicts == [True] * 3 + [False] * 5 + [True] * 4


def test_slow_drift_is_caught_against_the_pinned_night():
    """0.4 % slower every night: never 1 % from one night to the next, but the pinned night sees the sum."""
    from lab.bench.gate_sim import run_nights
    drift = lambda i: {("deterministic", "stock"): 0.004 * i}
    verdicts = run_nights(10, seed=13, slowdown_on=drift)
    assert verdicts[:2] == [True, True] and False in verdicts


def test_identical_repeats_are_insufficient_data_not_a_confident_verdict():
    assert welch([2500, 2500], [2510, 2510]).verdict == "insufficient data"
    # with 3 identical repeats a side the mode's resolution floor keeps the interval honest
    c = welch([2500] * 3, [2550] * 3, min_effect_pct=1.0, resolution_pct=0.05)
    assert c.verdict == "faster" and c.ci_low_pct < c.change_pct < c.ci_high_pct
    c = welch([2500] * 3, [2501] * 3, min_effect_pct=1.0, resolution_pct=0.05)
    assert c.verdict == "not significant" and c.ci_low_pct < 0 < c.ci_high_pct


@pytest.mark.parametrize("p,df,t", [(0.99995, 1, 6366.1977), (0.9995, 1, 636.6192), (0.975, 1.5, 6.016663),
                                    (0.975, 2.7, 3.392148), (0.995, 3.3, 5.344306)])
def test_t_quantile_far_tails_and_fractional_df(p, df, t):
    """Reference values: scipy.stats.t.ppf. The old bisection stopped at 1000."""
    assert t_quantile(p, df) == pytest.approx(t, rel=1e-6)


def test_welch_unequal_n_unequal_variance_fractional_df():
    """scipy.stats.ttest_ind(b, a, equal_var=False): df 7.83317, 95 % CI of the difference [0.95411, 2.61089],
    p 0.0011486."""
    a = [10.1, 10.3, 9.8, 10.0, 10.2]
    b = [11.0, 12.5, 10.2, 13.1, 11.8, 12.0, 11.4, 12.9]
    diff, half, df, p = welch_interval(summarize(a), summarize(b))
    assert df == pytest.approx(7.833166, rel=1e-6)
    assert diff - half == pytest.approx(0.954113, rel=1e-5) and diff + half == pytest.approx(2.610887, rel=1e-5)
    assert p == pytest.approx(0.0011486, rel=1e-3) and welch(a, b).verdict == "faster"
    assert t_pvalue(0.0, 3) == pytest.approx(1.0)


def test_benjamini_hochberg_and_holm_known_answers():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # BH at 5 %: sorted 0.005 .01 .03 .04 .5 vs .01 .02 .03 .04 .05 -> the first four
    assert benjamini_hochberg(p, 0.05) == {0, 1, 2, 3}
    # Holm at 5 %: 0.005 <= .01, 0.01 <= .0125, 0.03 > .0167 stops
    assert holm(p, 0.05) == {3, 0}


def test_counters_that_moved_hold_the_false_discovery_rate():
    """300 counters that do not move (and one that does): uncorrected, about 5 % of them would be listed."""
    rng = random.Random(3)
    recs = []
    for i, kernel in enumerate(["A"] * 4 + ["B"] * 4):
        counters = {f"a.ethtool.c{j}": rng.gauss(1000, 50) for j in range(300)}
        counters["a.ethtool.kicks"] = 100 if kernel == "A" else 300 + rng.random()
        counters["a.link.tx_packets"] = 1000
        r = rec(kernel, rng.gauss(10, 0.1), mode="wallclock", cell=i)
        r.update(counters=counters, derived={"tx_packets": 1000})
        recs.append(r)
    [p] = compare(recs, by="kernel")
    names = [n for n, _ in p.counters]
    assert names == ["a.ethtool.kicks/pkt"], names


def test_nightly_script_keeps_the_last_passing_night_as_baseline_and_pins_the_first(tmp_path):
    """Through scripts/nightly.sh: a 3 % slowdown on night 2 fails night 2 and night 3 (the baseline stays night 1),
    and passes again once fixed on night 4; night 1 is pinned."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from lab.results.rundir import RunDir
    root = Path(__file__).resolve().parent.parent
    rng = random.Random(21)
    verdicts = []
    for night, slow in ((1, 0), (2, 0.03), (3, 0.03), (4, 0)):
        out = tmp_path / f"nightly-2026112{night}"
        rd = RunDir.create(out, "xsk")
        rd.update_manifest(accel="tcg", mode="deterministic", status="ok")
        for r in series("stock", 4e5 * (1 - slow), 0.2, 3, rng, run=rd.id):
            rd.append_result(r)
        p = subprocess.run(["sh", str(root / "scripts/nightly.sh"), "gate", str(out), str(tmp_path)], cwd=root,
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LAB": f"{sys.executable} -m "
                                                                                                "lab.cli",
                                                                "PYTHONPATH": str(root)})
        verdicts.append(json.loads((out / "gate.json").read_text())["pass"])
        assert (p.returncode == 0) == verdicts[-1], p.stdout + p.stderr
        if night == 3:
            assert f"baseline {tmp_path}/nightly-20261121" in p.stdout, p.stdout
    assert verdicts == [True, False, False, True]
    assert (tmp_path / "nightly.pin").read_text().strip() == str(tmp_path / "nightly-20261121")
