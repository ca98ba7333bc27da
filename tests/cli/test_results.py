"""`lab compare`, `lab report`, `lab gate` (lab/cli/results.py)."""
import subprocess

from lab.results.rundir import RunDir
from tests.support import LAB, ROOT


def _rec(kernel, value, cell, unit="Gbit/s", counters=None, run="r"):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": "virtio0",
            "nic_model": "virtio", "params": {}, "status": "ok", "value": value, "metric": "throughput", "unit": unit,
            "higher_is_better": True, "mode": "wallclock", "counters": counters or {}, "derived": {"tx_packets": 1000}}


def _night(tmp_path, name, status="ok", planned=2, values=(1.0, 1.0), mode="deterministic"):
    rd = RunDir.create(tmp_path / name, "t")
    rd.update_manifest(status=status, mode=mode, testcase={"path": "testcases/t.yaml", "name": "t", "planned": planned})
    for i, v in enumerate(values):
        r = _rec("stock", v, i + 1, run=rd.id)
        r.update(mode=mode, repeat_index=i)
        rd.append_result(r)
    return rd


def test_lab_gate_reads_the_nightly_runs_log(tmp_path):
    night = _night(tmp_path, "n")
    (tmp_path / "lab-runs.tsv").write_text("testcases/t.yaml\tdeterministic\t0\ntestcases/x.yaml\twallclock\t1\n")
    p = subprocess.run(LAB + ["gate", str(night.path), "--runs-log", str(tmp_path / "lab-runs.tsv")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1
    assert "FAIL lab run testcases/x.yaml (wallclock) exited with status 1: no run dir" in p.stdout
