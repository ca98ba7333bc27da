"""Kernel selftests' streaks over nights (lab/results/streaks.py): NIPA's stability rule."""
from lab.results.streaks import STABLE, update_streaks


def st(test, status, kernel="stock"):
    return {"kind": "selftest", "testcase": "selftest:net", "suite": "net", "test": test, "status": status,
            "kernel": {"name": kernel}}


def test_a_test_is_passing_after_more_than_15_passes_and_only_then_does_its_failure_fail_the_night():
    streaks = {}
    for _ in range(STABLE + 1):
        streaks, lines, failing = update_streaks(streaks, [st("a.sh", "pass"), st("never.sh", "fail")])
        assert failing == [] and any("never.sh: never seen passing" in line for line in lines)
    assert streaks["stock/selftests-net/a.sh"] == {"passes": 16, "ever_passed": True, "flaky": 0}
    young = {"stock/selftests-net/a.sh": {"passes": STABLE, "ever_passed": True, "flaky": 0}}
    _, lines, failing = update_streaks(young, [st("a.sh", "fail")])  # 15 passes: not yet passing
    assert failing == [] and lines == ["fail stock/selftests-net/a.sh: passed before, not yet stable (15 passes "
                                       "in a row)"]
    after, lines, failing = update_streaks(streaks, [st("a.sh", "fail"), st("b.sh", "flaky"), {"kind": "cell"}])
    assert failing == ["FAIL stock/selftests-net/a.sh: was passing (16 passes in a row), fails tonight"]
    assert after["stock/selftests-net/a.sh"]["passes"] == 0 and streaks["stock/selftests-net/a.sh"]["passes"] == 16
    assert after["stock/selftests-net/b.sh"]["flaky"] == 1 and any(line.startswith("flaky ") for line in lines)
    _, _, failing = update_streaks(streaks, [st("a.sh", "fail", kernel="other")])  # another kernel: its own streak
    assert failing == []
