"""`lab compare`, `lab report`, `lab gate` (lab/cli/results.py)."""
import subprocess

from tests.support import LAB, ROOT
from tests.support.records import run_of_a_night


def test_lab_gate_reads_the_nightly_runs_log(tmp_path):
    night = run_of_a_night(tmp_path, "n")
    (tmp_path / "lab-runs.tsv").write_text("testcases/t.yaml\tdeterministic\t0\ntestcases/x.yaml\twallclock\t1\n")
    p = subprocess.run(LAB + ["gate", str(night.path), "--runs-log", str(tmp_path / "lab-runs.tsv")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1
    assert "FAIL lab run testcases/x.yaml (wallclock) exited with status 1: no run dir" in p.stdout
