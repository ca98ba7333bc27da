"""Run directories (lab/results/rundir.py): appends that survive crashes, full disks and a second process."""
import json
import os
import subprocess
import sys

import pytest

from lab.errors import LabError
from lab.results.rundir import RunDir, atomic_write, load_results
from tests.support import ROOT


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
            pytest.skip("root ignores directory permissions; test_disk_full_keeps_what_was_written "
                        "(a tiny tmpfs) covers this")
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
    bad = resume_mismatches(m, [SimpleNamespace(name="stock", sha256="b" * 64)],
                            SimpleNamespace(accel="kvm", cpu="host"))
    assert bad == ["kernel stock: sha256 aaaaaaaaaaaaaaaa in the manifest, bbbbbbbbbbbbbbbb now",
                   "accelerator: tcg in the manifest, kvm now", "CPU model: max in the manifest, host now"]




def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0})
    with open(rd.path / "results.jsonl", "a") as f:
        f.write('{"cell": 2, "status": "o')  # a crash mid-write (or a full disk)
    rd.append_result({"cell": 2, "status": "ok", "value": 2.0})
    rd.append_result({"cell": 3, "status": "ok", "value": 3.0})
    assert [r["cell"] for r in load_results(rd.path)] == [1, 2, 3]
    assert (rd.path / "results.torn").read_text() == '{"cell": 2, "status": "o\n'  # nothing lost


def test_a_failed_append_is_truncated_back_and_a_run_dir_is_held_by_one_process(tmp_path, monkeypatch):
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0})
    size = (rd.path / "results.jsonl").stat().st_size
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(LabError, match="No space left on device; earlier results are intact"):
        rd.append_result({"cell": 2, "status": "ok", "value": 2.0})
    monkeypatch.undo()
    assert (rd.path / "results.jsonl").stat().st_size == size
    rd.lock()
    out = subprocess.run([sys.executable, "-c", "from lab.results.rundir import RunDir; "
                                                f"RunDir({str(rd.path)!r}).lock()"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "another lab process is running or resuming this run dir" in out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_full_keeps_what_was_written(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tiny", str(mnt)], check=True)
    try:
        rd = RunDir.create(mnt, "full")
        n = 0
        with pytest.raises(LabError, match="earlier results are intact"):
            for n in range(10000):
                rd.append_result({"cell": n, "pad": "x" * 500})
        recs = rd.results()
        assert len(recs) >= 10 and [r["cell"] for r in recs] == list(range(len(recs)))
        with pytest.raises(LabError, match="cannot write"):
            rd.update_manifest(big="y" * 100000)
        assert json.loads((rd.path / "manifest.json").read_text())["id"] == rd.id  # old manifest intact
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
