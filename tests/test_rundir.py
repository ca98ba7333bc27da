"""Run directories: results appended as they arrive; torn lines and full disks lose nothing already written."""
import json

import pytest

from lab.errors import LabError
from lab.results.rundir import RunDir, atomic_write, load_results


def test_append_and_reload(tmp_path):
    rd = RunDir.create(tmp_path, "x")
    rd.append_result({"cell": 1, "value": 1.5})
    rd.append_result({"cell": 2, "value": 2.5})
    with open(rd.path / "results.jsonl", "a") as f:
        f.write('{"cell": 3, "val')  # a crash mid-write
    assert [r["cell"] for r in load_results(rd.path)] == [1, 2]
    rd.update_manifest(status="ok")
    assert json.loads((rd.path / "manifest.json").read_text())["status"] == "ok"
    assert RunDir(rd.path).manifest["id"] == rd.id


def test_atomic_write_failure_keeps_old_file(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("old")
    tmp_path.chmod(0o500)
    try:
        import os
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions; the tmpfs test in test_faults covers this")
        with pytest.raises(LabError, match="earlier results are intact"):
            atomic_write(p, "new")
    finally:
        tmp_path.chmod(0o700)
    assert p.read_text() == "old"
