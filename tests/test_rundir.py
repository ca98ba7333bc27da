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


def test_only_a_torn_last_line_is_skipped_and_said(tmp_path):
    import pytest

    from lab.errors import LabError
    from lab.results.rundir import load_results
    rd = RunDir.create(tmp_path, "torn")
    for i in range(3):
        rd.append_result({"cell": i})
    with open(rd.path / "results.jsonl", "a") as f:
        f.write('{"cell": 3, "val')  # a crash mid-write
    said = []
    assert [r["cell"] for r in load_results(rd.path, warn=said.append)] == [0, 1, 2]
    assert said and "results.jsonl:4: last line torn" in said[0]
    text = (rd.path / "results.jsonl").read_text().splitlines()
    (rd.path / "results.jsonl").write_text("\n".join([text[0], "garbage", text[1], text[2]]) + "\n")
    with pytest.raises(LabError, match=r"results.jsonl:2: not a JSON record .* damaged, not torn"):
        load_results(rd.path)


def test_resume_refuses_another_kernel_accelerator_or_cpu():
    from types import SimpleNamespace

    from lab.runner import resume_mismatches
    m = {"kernels": [{"name": "stock", "sha256": "a" * 64}], "accel": "tcg", "cpu_model": "max"}
    same = SimpleNamespace(accel="tcg", cpu="max")
    k = SimpleNamespace(name="stock", sha256="a" * 64)
    assert resume_mismatches(m, [k], same) == []
    bad = resume_mismatches(m, [SimpleNamespace(name="stock", sha256="b" * 64)], SimpleNamespace(accel="kvm",
                                                                                                 cpu="host"))
    assert bad == ["kernel stock: sha256 aaaaaaaaaaaaaaaa in the manifest, bbbbbbbbbbbbbbbb now",
                   "accelerator: tcg in the manifest, kvm now", "CPU model: max in the manifest, host now"]
