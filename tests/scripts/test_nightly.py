"""The nightly job (scripts/nightly.sh, .github/workflows/nightly.yml)."""
import random
import subprocess

import yaml

from tests.support import ROOT
from tests.support.records import series


def test_nightly_script_keeps_the_last_passing_night_as_baseline_and_pins_the_first(tmp_path):
    """Through scripts/nightly.sh: a 3 % slowdown on night 2 fails night 2 and night 3 (the baseline stays night 1),
    and passes again once fixed on night 4; night 1 is pinned."""
    import json
    import sys

    from lab.results.rundir import RunDir
    root = ROOT
    rng = random.Random(21)
    verdicts = []
    for night, slow in ((1, 0), (2, 0.03), (3, 0.03), (4, 0)):
        out = tmp_path / f"nightly-2026112{night}"
        rd = RunDir.create(out, "xsk")
        rd.update_manifest(accel="tcg", mode="deterministic", status="ok")
        for r in series("stock", 4e5 * (1 - slow), 0.2, 3, rng, run=rd.id):
            rd.append_result(r)
        p = subprocess.run(["sh", str(root / "scripts/nightly.sh"), "gate", str(out), str(tmp_path)], cwd=root,
                           capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "LAB": f"{sys.executable} -m lab.cli",
                                "PYTHONPATH": str(root)})
        verdicts.append(json.loads((out / "gate.json").read_text())["pass"])
        assert (p.returncode == 0) == verdicts[-1], p.stdout + p.stderr
        if night == 3:
            assert f"baseline {tmp_path}/nightly-20261121" in p.stdout, p.stdout
    assert verdicts == [True, False, False, True]
    assert (tmp_path / "nightly.pin").read_text().strip() == str(tmp_path / "nightly-20261121")




def test_nightly_workflow_shape():
    wf = yaml.safe_load((ROOT / ".github/workflows/nightly.yml").read_text())
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    jobs = wf["jobs"]
    assert set(jobs) == {"kernels", "run", "report"}
    assert jobs["run"]["needs"] == "kernels" and jobs["report"]["needs"] == "run"
    shards = jobs["run"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(wf["env"]["SHARDS"]) + 1))
    for name, job in jobs.items():
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)
    runs = " ".join(s.get("run", "") for j in jobs.values() for s in j["steps"])
    assert "scripts/nightly.sh run" in runs and "scripts/nightly.sh gate" in runs
    uploads = [s for j in jobs.values() for s in j["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert any("report.html" in str(s["with"]["path"]) for s in uploads)
    # a failed night never becomes the baseline: every step that saves it runs only on success
    saves = [s for s in jobs["report"]["steps"]
             if "baseline" in str(s) and ("cache/save" in s.get("uses", "") or "cp -r" in s.get("run", ""))]
    assert len(saves) == 2 and all(s.get("if", "").startswith("success()") for s in saves), saves
    night = (ROOT / "scripts/nightly.sh").read_text()
    assert "ls testcases/*.yaml" in night and "--mode deterministic" in night  # every testcase, and the icount legs


def test_a_nightly_that_follows_a_branch_builds_tonights_commit_and_bisects_against_it(tmp_path):
    """NIGHTLY_SOURCE=TREE@REF: the night resolves REF once (a commit landing mid-night changes nothing), hands
    every `lab run` --source TREE@<commit>, and its gate --bisect TREE. `lab` is a stand-in recording its argv."""

    from tests.support import fake_git_tree, git
    repo = fake_git_tree(tmp_path)
    commit = git(repo, "rev-parse", "HEAD")
    log = tmp_path / "lab.argv"
    fake = tmp_path / "lab"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\n")
    fake.chmod(0o755)
    out = tmp_path / "nightly-20261206"
    env = {"PATH": "/usr/bin:/bin", "LAB": str(fake), "NIGHTLY_SOURCE": f"{repo}@master",
           "NIGHTLY_TESTCASES": "testcases/xsk.yaml", "NIGHTLY_DETERMINISTIC": "testcases/udpgso.yaml"}
    p = subprocess.run(["sh", "scripts/nightly.sh", "run", str(out)], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    assert p.returncode == 0, p.stderr
    runs = log.read_text().splitlines()
    assert len(runs) == 2 and all(f"--source {repo}@{commit}" in r for r in runs), runs
    assert (out / "source").read_text().strip() == f"{repo}@{commit}"
    (out / "run-1").mkdir()
    p = subprocess.run(["sh", "scripts/nightly.sh", "gate", str(out), str(tmp_path)], cwd=ROOT, capture_output=True,
                       text=True, env=env)
    gate = [r for r in log.read_text().splitlines() if r.startswith("gate ")]
    assert gate and f"--bisect {repo} --bisect-steps 8" in gate[0], gate
    bad = subprocess.run(["sh", "scripts/nightly.sh", "run", str(tmp_path / "n2")], cwd=ROOT, capture_output=True,
                         text=True, env={**env, "NIGHTLY_SOURCE": f"{repo}@no-such-branch"})
    assert bad.returncode == 2 and "not a revision" in bad.stderr


def test_the_nightly_judges_kernel_selftests_by_their_streaks_up_to_the_last_passing_night(tmp_path):
    """Through scripts/nightly.sh: a selftest passing 16 nights in a row fails the night it fails and stays
    flagged the next (the streaks come from the last passing night); a test never seen passing is reported only."""
    import json
    import sys

    from lab.results.rundir import RunDir
    first = tmp_path / "nightly-20261120"
    rd = RunDir.create(first, "selftest-net")
    rd.update_manifest(kind="selftest", mode="selftest", status="ok", testcase={"name": "selftest:net"})
    rd.append_result({"run_id": rd.id, "kind": "selftest", "testcase": "selftest:net", "suite": "net", "cell": 1,
                      "test": "udpgso.sh", "status": "pass", "seconds": 1.0, "kernel": {"name": "stock"}})
    (first / "gate.json").write_text(json.dumps({"pass": True, "streaks": {
        "stock/selftests-net/udpgso.sh": {"passes": 16, "ever_passed": True, "flaky": 0}}}))
    verdicts = []
    for night, status in ((1, "fail"), (2, "fail"), (3, "pass")):
        out = tmp_path / f"nightly-2026112{night}"
        rd = RunDir.create(out, "selftest-net")
        rd.update_manifest(kind="selftest", mode="selftest", status="ok",
                           testcase={"name": "selftest:net", "path": "selftest:net"})
        for i, (test, st) in enumerate((("udpgso.sh", status), ("never.sh", "fail")), 1):
            rd.append_result({"run_id": rd.id, "kind": "selftest", "testcase": "selftest:net", "suite": "net",
                              "cell": i, "test": test, "status": st, "seconds": 1.0, "kernel": {"name": "stock"}})
        p = subprocess.run(["sh", str(ROOT / "scripts/nightly.sh"), "gate", str(out), str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "LAB": f"{sys.executable} -m lab.cli",
                                "PYTHONPATH": str(ROOT)})
        verdict = json.loads((out / "gate.json").read_text())
        verdicts.append(verdict["pass"])
        assert (p.returncode == 0) == verdict["pass"], p.stdout + p.stderr
        assert any("never.sh: never seen passing" in line for line in verdict["lines"]), verdict["lines"]
        assert (night < 3) == any("udpgso.sh: was passing (16 passes in a row), fails tonight" in line
                                  for line in verdict["regressions"]), verdict["regressions"]
    assert verdicts == [False, False, True]
    assert verdict["streaks"]["stock/selftests-net/udpgso.sh"]["passes"] == 17  # night 3 built on night 0's 16
