"""The selftest runner's rules with a stand-in guest (lab/selftest/run.py): retry and flaky, crashes, state left
behind, the backstop timeout, what is written as each test ends, longest first. Real guests: tests/boot."""
import json
from types import SimpleNamespace

from lab.errors import GuestCrash, GuestError
from lab.guest.guest import GuestResult
from lab.results.rundir import RunDir
from lab.selftest.run import KMEMLEAK, STATE, SelftestRun, last_times
from lab.vm.console import CrashReport


def tap(test, ok, out=("hello",)):
    body = "".join(f"# {line}\n" for line in out)
    verdict = "ok" if ok else "not ok"
    return f"TAP version 13\n1..1\n# selftests: net: {test}\n{body}{verdict} 1 selftests: net: {test}\n"


class Guest:
    """Answers each test's runs in turn from `script`: {test: [outcome, ...]}, an outcome being 'pass', 'fail',
    'crash', 'leak' (passes, leaves a netns) or 'hang' (the backstop timeout)."""

    def __init__(self, script):
        self.script, self.netns = script, []
        self.leaks = []  # what the kmemleak scan after each test prints, in turn

    def alive(self):
        return True

    def run(self, argv, timeout=60, check=True):
        cmd = argv[-1]
        if cmd.startswith(STATE):
            return GuestResult(argv, 0, "1: lo\n" + "".join(f"{n}\n" for n in self.netns), "", 0.01)
        if cmd == KMEMLEAK:
            return GuestResult(argv, 0, self.leaks.pop(0) if self.leaks else "", "", 0.5)
        test = cmd.rsplit("./", 1)[1]
        outcome = self.script[test].pop(0)
        if outcome == "hang":
            raise GuestError(f"guest command timed out after {timeout}s: {cmd}")
        res = GuestResult(argv, 0, tap(test, outcome in ("pass", "leak", "kmemleak")), "", 2.0)
        if outcome == "leak":
            self.netns.append("ns-left-behind")
        if outcome == "timeout":  # kselftest's runner killed it mid-way: what it made is left behind
            self.netns.append("ns-t")
            res = GuestResult(argv, 0, f"#\nnot ok 1 selftests: net: {test} # TIMEOUT 45 seconds\n", "", 45.0)
        if outcome == "kmemleak":  # passes; the scan after it finds a leak
            self.leaks = [LEAK]
        if outcome == "crash":
            trace = ["BUG: kernel NULL pointer dereference", "Call Trace:", " <TASK>",
                     *[f"  fn{i}+0x1/0x10" for i in range(7)]]
            raise GuestCrash(CrashReport("bug", trace[0], trace), result=res)
        return res


LEAK = """unreferenced object 0xffff888003692380 (size 128):
  comm "unsigned-md5_ip", pid 762, jiffies 4294831244
  backtrace (crc 2128895f):
    [<ffffffffb2131db6>] kmalloc_trace_noprof+0x236/0x290
    [<ffffffffb3dee5e4>] tcp_ao_alloc_info+0x44/0xf0
    [<ffffffffb3c2a534>] do_tcp_setsockopt+0xa64/0x2320
    [<ffffffffb38e3629>] do_sock_setsockopt+0x149/0x3a0
    [<ffffffffb38ee8b4>] __sys_setsockopt+0x104/0x1a0
    [<ffffffffb38eea1d>] __x64_sys_setsockopt+0xbd/0x160
"""


def make_run(tmp_path, tests):
    rd = RunDir.create(tmp_path, "selftest-net")
    (rd.guest_dir / "kselftest" / "net").mkdir(parents=True)
    place = SimpleNamespace(kernel=SimpleNamespace(name="stock", release="6.1"), remote="netns", kind="guest",
                            cfg=SimpleNamespace(accel="kvm", links=[]))
    run = SelftestRun(rd, place, "net", tests, 45, [["fn0"]], say=lambda *a: None)
    run.scaled = 45
    return rd, run


def test_a_failure_runs_again_a_crash_or_leftover_state_fails_and_renews_the_guest(tmp_path):
    tests = ["ok.sh", "flaky.sh", "bad.sh", "crash.sh", "leak.sh", "hang.sh", "kmemleak.sh", "slow.sh"]
    rd, run = make_run(tmp_path, tests)
    guest = Guest({"ok.sh": ["pass"], "flaky.sh": ["fail", "pass"], "bad.sh": ["fail", "fail"],
                   "crash.sh": ["crash"], "leak.sh": ["leak"], "hang.sh": ["hang"], "kmemleak.sh": ["kmemleak"],
                   "slow.sh": ["timeout"]})
    renewed = {}
    for t in tests:
        rec, output, renewed[t] = run.run_test(guest, "/lab/kselftest", t, slot=0)
        run.finish(rec, output)
        assert [r["test"] for r in rd.results()][-1] == t  # on disk as each test ends
        assert json.loads((rd.path / "nipa.json").read_text())["results"][-1]["test"] == t.replace(".", "-")
    recs = {r["test"]: r for r in rd.results()}
    assert {t: (r["status"], r.get("retry")) for t, r in recs.items()} == {
        "ok.sh": ("pass", None), "flaky.sh": ("flaky", "pass"), "bad.sh": ("fail", "fail"),
        "crash.sh": ("fail", None), "leak.sh": ("fail", None), "hang.sh": ("fail", None),
        "kmemleak.sh": ("fail", None), "slow.sh": ("fail", None)}
    assert recs["slow.sh"]["why"] == "TIMEOUT; env-check-fail: ns-t" and recs["crash.sh"]["why"] == "kernel bug"
    assert recs["kmemleak.sh"]["why"] == "kmemleak" and recs["kmemleak.sh"]["crashes"][0]["fingerprint"] == \
        "kmalloc_trace_noprof:tcp_ao_alloc_info:do_tcp_setsockopt:do_sock_setsockopt:__sys_setsockopt"  # NIPA's
    assert recs["crash.sh"]["crashes"][0]["fingerprint"] == "fn1:fn2:fn3:fn4:fn5"  # fn0 is on the ignore list
    assert recs["leak.sh"]["why"] == "env-check-fail: ns-left-behind" and "timed out" in recs["hang.sh"]["why"]
    assert renewed == {"ok.sh": False, "flaky.sh": False, "bad.sh": False, "crash.sh": True, "leak.sh": True,
                       "hang.sh": True, "kmemleak.sh": False, "slow.sh": True}
    ktap = (rd.path / "selftests.ktap").read_text().splitlines()
    assert ktap[:2] == ["TAP version 13", "1..8"] and "not ok 4 selftests: net: crash.sh # kernel bug" in ktap
    assert "ok 2 selftests: net: flaky.sh" in ktap and "not ok 3 selftests: net: bad.sh" in ktap
    assert ktap[2:5] == ["# selftests: net: ok.sh", "# hello", "ok 1 selftests: net: ok.sh"]
    nipa = {e["test"]: e for e in json.loads((rd.path / "nipa.json").read_text())["results"]}
    assert (nipa["flaky-sh"]["result"], nipa["flaky-sh"]["retry"]) == ("fail", "pass")
    assert nipa["crash-sh"]["crashes"] == ["fn1:fn2:fn3:fn4:fn5"] and nipa["ok-sh"]["group"] == "selftests-net"


def test_the_last_run_of_the_same_target_orders_the_next_longest_first(tmp_path):
    assert last_times(tmp_path, "net") == {}
    for name, suite, secs in (("20261201-000000-selftest-net-aaaa", "net", {"a.sh": 5, "b.sh": 50}),
                              ("20261202-000000-selftest-net-bbbb", "net", {"a.sh": 90, "b.sh": 3}),
                              ("20261203-000000-selftest-tc-cccc", "tc", {"a.sh": 1})):
        d = tmp_path / name
        d.mkdir()
        (d / "manifest.json").write_text(json.dumps({"kind": "selftest", "testcase": {"name": f"selftest:{suite}"}}))
        (d / "results.jsonl").write_text("".join(json.dumps({"cell": 1, "test": t, "seconds": s}) + "\n"
                                                 for t, s in secs.items()))
    (tmp_path / "20261204-000000-broken").mkdir()
    (tmp_path / "20261204-000000-broken" / "manifest.json").write_text("{not json")  # a damaged run dir is passed by
    assert last_times(tmp_path, "net") == {"a.sh": 90, "b.sh": 3}


def test_the_state_a_test_must_leave_includes_the_lab_nics_features_and_rings():
    from lab.selftest.run import state_script
    from lab.vm.links import make_links
    s = state_script(make_links(["virtio"]))
    assert s.startswith(STATE) and "ip netns exec virtio0a ethtool -k eth0" in s and \
        "ip netns exec virtio0b ethtool -g eth0" in s


class TimedGuest(Guest):
    """A Guest that notes each command's timeout."""

    def run(self, argv, timeout=60, check=True):
        self.timeouts = getattr(self, "timeouts", []) + [(argv[-1], timeout)]
        return super().run(argv, timeout, check)


def test_a_target_without_a_timeout_gets_none_unless_capped_and_the_lab_still_bounds_it(tmp_path):
    """drivers/net/hw's settings say timeout=0 (none, to kselftest's runner): it stays none (or --timeout), and
    the guest command's own bound is the lab's NO_LIMIT_S, never 0 + 120 s."""
    from lab.selftest.run import NO_LIMIT_S
    for cap, want in ((None, 0), (300, 300)):
        rd, run = make_run(tmp_path / str(cap), ["long.sh"])
        run.scaled, run.timeout, run.cap = None, 0, cap
        run.place.factor = lambda env: 19.4
        run.calibrate(None, 0)
        assert run.scaled == want and run.slow
        assert (rd.guest_dir / "kselftest/net/settings").read_text() == f"timeout={want}\n"
        g = TimedGuest({"long.sh": ["pass"]})
        run.attempt(g, "/lab/kselftest", "long.sh")
        assert [t for cmd, t in g.timeouts if "run_many" in cmd] == [(want or NO_LIMIT_S) + 120]
