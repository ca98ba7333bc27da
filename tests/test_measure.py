"""A cell's value (lab/measure.py): a finite number or the cell fails."""
import pytest

from lab.errors import LabError
from lab.results.rundir import RunDir, load_results
from tests.support import ROOT


def test_non_finite_numbers_never_reach_a_record(tmp_path):
    from lab.measure import parse_value
    from lab.workloads import load_testcase
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0, "extra": {"x": float("nan"), "y": [float("inf")]}})
    [r] = load_results(rd.path)  # strict JSON: no NaN token
    assert r["extra"] == {"x": None, "y": [None]}
    tc = load_testcase(ROOT / "testcases/udpgso.yaml")  # parser json
    for out in ('{"value": NaN}', '{"value": "fast"}', '{"value": Infinity}', "[1, 2]"):
        with pytest.raises(LabError, match="parser json"):
            parse_value(tc, out)
