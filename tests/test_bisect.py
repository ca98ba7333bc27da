"""`lab bisect` (lab/bisect.py): the search, the judgement, and a bisect over a real git history with the
measurement faked (a real one boots a kernel per step)."""
import json
import math

import pytest

from lab.bisect import BAD, GOOD, SKIP, Bisect, judge, search
from tests.support import SUPPORT, fake_git_tree, git
from tests.support.records import xsk_rec


@pytest.mark.parametrize("n,first", [(1, 0), (2, 1), (5, 3), (16, 9), (16, 0), (16, 15)])
def test_search_finds_the_first_bad_commit_in_ceil_log2_steps(n, first):
    first_bad, tested, _ = search(list(range(n)), lambda i: BAD if i >= first else GOOD)
    assert first_bad == first
    assert len(tested) <= math.ceil(math.log2(n))  # the bad endpoint itself is never a step


def test_a_commit_that_does_not_build_is_skipped_and_its_neighbour_tried():
    commits = list(range(5))  # 0 good, 1 broken, 2 good, 3 first bad, 4 the bad endpoint
    verdict = {0: GOOD, 1: SKIP, 2: GOOD, 3: BAD}
    first, tested, _ = search(commits, lambda i: verdict[i])
    assert first == 3 and 1 in tested and tested.index(1) < tested.index(2)  # the broken one, then its neighbour
    first, _, among = search([0, 1, 2], lambda i: SKIP)  # nothing between builds: the answer is open among them
    assert first is None and among == [0, 1, 2]
    first, tested, among = search(list(range(16)), lambda i: BAD if i >= 9 else GOOD, max_steps=2)
    assert first is None and len(tested) == 2 and 9 in among


def test_judge_calls_a_slower_revision_changed_and_a_failure_too():
    good = [xsk_rec("good", 1000.0 + i, cell=i) for i in range(3)]
    same = [xsk_rec("rev", 1000.5 + i, cell=10 + i) for i in range(3)]
    slower = [xsk_rec("rev", 900.0 + i, cell=10 + i) for i in range(3)]
    assert judge(good, same)[0] is False
    changed, how, line = judge(good, slower)
    assert changed and how == "slower" and "-10." in line
    failed = [dict(slower[0], status="failed", error="no carrier")]
    assert judge(good, failed)[:2] == (True, "failure")




def test_a_bisect_over_a_real_history_names_the_commit_skips_the_broken_one_and_resumes(tmp_path, monkeypatch):
    """base, a comment, a commit that does not build, its fix, the slow commit, an unrelated one (the bad end).
    The measurement is faked (records by commit); git, the log and the resume are real."""
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    repo = fake_git_tree(tmp_path)
    subjects = ["a comment", "breaks the build", "fixes the build", "a loop in xmit", "unrelated"]
    for s in subjects:
        git(repo, "commit", "-q", "--allow-empty", "-m", s)
    log = git(repo, "log", "--reverse", "--format=%H %s").splitlines()
    by_subject = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in log}
    measured = []

    def fake_run(tc, opts, say=print):
        from lab.errors import LabError
        from lab.results.rundir import RunDir
        commit = opts.source.rsplit("@", 1)[1]
        assert opts.kernels == ["stock"]
        measured.append(commit)
        subject = next(s for s, c in by_subject.items() if c == commit)
        if subject == "breaks the build":
            raise LabError("kernel build failed (make rc=2)")
        slow = subjects.index(subject) >= subjects.index("a loop in xmit") if subject in subjects else False
        rd = RunDir.create(opts.runs_root, "xsk")
        for i in range(3):
            rd.append_result(xsk_rec(f"rev-{commit[:8]}", (900.0 if slow else 1000.0) + i, cell=i, run=rd.id))
        return rd

    monkeypatch.setattr("lab.runner.run_testcase", fake_run)
    from lab.runner import RunOptions
    from lab.workloads import load_testcase
    tc = load_testcase(SUPPORT.parent.parent / "testcases" / "xsk.yaml")
    said = []
    b = Bisect(tc, repo, "HEAD~5", "HEAD", RunOptions(runs_root=str(tmp_path / "runs"), mode="deterministic"),
               say=said.append)
    s = b.run()
    assert s["first_bad"] == by_subject["a loop in xmit"], said
    assert f"first bad commit: {by_subject['a loop in xmit']} a loop in xmit" in said
    assert by_subject["breaks the build"] in measured  # tried, skipped
    steps = {x["commit"]: x["status"] for x in s["steps"]}
    assert steps[by_subject["breaks the build"]] == SKIP and steps[by_subject["fixes the build"]] == GOOD
    assert s["measured"] <= math.ceil(math.log2(5)) + 2  # good and bad endpoints + the steps
    lines = [json.loads(x) for x in (b.dir / "bisect.jsonl").read_text().splitlines()]
    assert len(lines) == len(measured)
    # resumed from its log: nothing measured again, the same answer
    measured.clear()
    again = Bisect(tc, repo, "HEAD~5", "HEAD", RunOptions(runs_root=str(tmp_path / "runs"), mode="deterministic"),
                   directory=b.dir, say=said.append).run()
    assert again["first_bad"] == s["first_bad"] and measured == []
    # a range in which nothing changed stops after its two endpoints
    measured.clear()
    quiet = Bisect(tc, repo, "HEAD~5", "HEAD~2", RunOptions(runs_root=str(tmp_path / "runs2")), say=said.append).run()
    assert quiet["verdict"] == "no change between good and bad" and len(measured) == 2


def test_the_gate_bisects_a_regressed_cell_between_the_two_nights_commits(tmp_path, monkeypatch, capsys):
    """`lab gate --bisect TREE` (scripts/nightly.sh with NIGHTLY_SOURCE): last passing night built base, tonight
    HEAD, the cell is slower; the gate bisects base..HEAD on that cell alone and its verdict names the commit and
    the function. The measurement is faked (a real one boots a guest per step: tests/boot/test_bisect.py)."""
    from dataclasses import asdict

    from lab.cli import main
    from lab.results.rundir import RunDir
    from lab.runner import RunOptions
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    repo = fake_git_tree(tmp_path)
    for s in ("a comment", "a loop in xmit", "unrelated"):
        git(repo, "commit", "-q", "--allow-empty", "-m", s)
    commits = git(repo, "log", "--reverse", "--format=%H").split()
    slow_from = commits[2]
    xsk = SUPPORT.parent.parent / "testcases" / "xsk.yaml"

    def rec(run, commit, i):
        slow = commits.index(commit) >= commits.index(slow_from)
        r = xsk_rec("stock", (900.0 if slow else 1000.0) + i, cell=i, run=run, repeat_index=i)
        r["kernel"]["commit"], r["nic_model"], r["params"] = commit, "virtio", {"size": 64}
        xmit = (1100.0 if slow else 1000.0) + i / 100  # instructions per packet
        r["profile"] = {"packets": 1000, "window_insns": (xmit + 1500) * 1000, "functions": {"start_xmit": xmit,
                                                                                           "other": 1500.0}}
        return r

    def night(name, commit):
        rd = RunDir.create(tmp_path / name, "xsk")
        rd.update_manifest(status="complete", mode="deterministic", options=asdict(RunOptions()),
                           testcase={"path": str(xsk), "name": "xsk", "text": xsk.read_text(), "planned": 3})
        for i in range(3):
            rd.append_result(rec(rd.id, commit, i))
        return rd

    prev, tonight = night("night-1", commits[0]), night("night-2", commits[-1])
    asked = []

    def fake_run(tc, opts, say=print):
        asked.append(opts)
        rd = RunDir.create(opts.runs_root, "xsk")
        for i in range(3):
            rd.append_result(rec(rd.id, opts.source.rsplit("@", 1)[1], i))
        return rd

    monkeypatch.setattr("lab.runner.run_testcase", fake_run)
    verdict = tmp_path / "night-2" / "gate.json"
    rc = main(["gate", str(tonight.path), "--previous", str(prev.path), "--verdict", str(verdict), "--bisect",
               str(repo), "--bisect-steps", "4"])
    out = capsys.readouterr().out
    v = json.loads(verdict.read_text())
    assert rc == 1 and not v["pass"]
    assert f"first bad commit: {slow_from} a loop in xmit" in out, out
    assert v["bisects"][0]["first_bad"] == slow_from and v["bisects"][0]["functions"][0]["name"] == "start_xmit"
    # the cell alone, as tonight measured it: its link, axis value, mode and kernel role, at each revision
    assert {(tuple(o.links), tuple(o.axes["size"]), o.mode, tuple(o.kernels)) for o in asked} == \
        {(("virtio",), (64,), "deterministic", ("stock",))}
    assert {o.source.rsplit("@", 1)[1] for o in asked} >= {commits[0], commits[-1], slow_from}
