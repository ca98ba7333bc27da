"""The nightly gate (lab/gate.py): like with like, Holm over a night, whole nights only."""
import random

import pytest

from lab.errors import ConfigError
from lab.gate import gate
from lab.results.compare import compare, dims
from tests.support.records import run_of_a_night, series, throughput_rec


def test_gate_fails_on_functional_failure_and_regression():
    from lab.gate import gate
    prev = [throughput_rec("p", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([10, 10.2, 9.9, 10.1])]
    same = [throughput_rec("c", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([10.1, 9.9, 10, 10.2])]
    worse = [throughput_rec("c", i, "stock", "virtio0", {"size": 64}, v) for i, v in enumerate([8, 8.1, 7.9, 8.2])]
    assert gate(same, prev, gate_wallclock=True).ok is True
    res = gate(worse, prev, gate_wallclock=True)
    assert res.ok is False and any(l.startswith("REGRESSION vs previous night: throughput") for l in res.lines)
    # by default wall-clock pairs are reported, not gated: -20 % under TCG noise is a lead, not a verdict
    res = gate(worse, prev)
    assert res.ok is True and any(l.startswith("reported, not gated (wallclock)") and "slower" in l for l in res.lines)
    failed = throughput_rec("c", 9, "stock", "virtio0", {"size": 64}, 0)
    broken = same + [dict(failed, status="failed", error="no carrier")]
    res = gate(broken, [])
    assert res.ok is False and any("no carrier" in l for l in res.lines)
    retried_then_ok = [dict(same[0], status="failed", retried=True, error="first attempt failed"),
                       dict(same[0], status="ok")]
    assert gate(retried_then_ok, []).ok is True
    ok_then_failed = [dict(same[0], status="ok"), dict(same[0], status="failed", error="second attempt failed")]
    assert gate(ok_then_failed, []).ok is False  # the final attempt decides


def test_gate_never_pools_two_kernels_of_a_night():
    """Last night's two XSK kernels sit at different levels; tonight one is 10 % slower. Pooled by run (the old
    grouping dropped the kernel), the interval spanned -53 %..+46 % and the gate passed."""
    rng = random.Random(5)
    last = series("stock", 3.97e5, 0.3, 3, rng, run="n1") + series("xsk-copy-path", 4.55e5, 0.3, 3, rng, run="n1")
    tonight = (series("stock", 3.97e5, 0.3, 3, rng, run="n2")
               + series("xsk-copy-path", 0.9 * 4.55e5, 0.3, 3, rng, run="n2"))
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


def test_the_gate_fails_a_night_that_cannot_be_judged_whole(tmp_path):
    from lab.gate import gate
    prev = run_of_a_night(tmp_path, "prev")
    ok = run_of_a_night(tmp_path, "ok")
    runs = lambda *rds: [(str(r.path), r.manifest) for r in rds]
    assert gate(ok.results(), prev.results(), runs=runs(ok)).ok
    for night, why in ((run_of_a_night(tmp_path, "boot", status="failed", values=()), "FAIL run .*: failed"),
                       (run_of_a_night(tmp_path, "kill", status="interrupted", values=(1.0,)), "1 of 2 planned cells"),
                       (run_of_a_night(tmp_path, "short", values=(1.0,)), "missing tonight .*repeat 1")):
        res = gate(night.results(), prev.results(), runs=runs(night))
        assert not res.ok and any(__import__("re").search(why, l) for l in res.regressions), res.regressions
    res = gate([], prev.results(), runs_log=[("testcases/t.yaml", "wallclock", 2)])
    assert not res.ok and any("testcases/t.yaml (wallclock) exited with status 2: no run dir" in l
                              for l in res.regressions)
    one = run_of_a_night(tmp_path, "one", values=(1.0,), planned=1)
    res = gate(one.results(), run_of_a_night(tmp_path, "p1", values=(1.1,), planned=1).results(), runs=runs(one))
    assert res.ok and any(l.startswith("insufficient data vs previous") for l in res.lines)
