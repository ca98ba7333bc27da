"""`lab selftest`: a target's kselftests across guests at once, as netdev's CI runs them (or on a hardware
target's host: places.py).

Each guest (`--jobs`, default the host's cores) has the lab's links and takes the next test from one queue,
ordered longest first by the last run's times. kselftest's own runner runs each test with the target's timeout
scaled by the TCG factor measured in the first guest (KSFT_MACHINE_SLOW=yes when it is 2 or more); a failure is
run once more (a pass then is `flaky`); a kernel report on the console is fingerprinted and attached to its
test, and a test that leaves links or namespaces behind fails the state check; either way the guest is booted
afresh for the next. Records, KTAP and nipa.json are written as each test ends.
"""
import json
import queue
import shutil
import threading
import time
from pathlib import Path

from ..errors import GuestCrash, GuestError, LabError, TargetError
from ..progress import Progress
from ..results.rundir import RunDir, now_iso
from ..vm.console import fingerprint5, kmemleak_reports, read_ignore
from .build import bpf_needs, build_selftests, lacking, parse_spec, source_for, suite_needs, suite_tests, suite_timeout
from .ktap import ktap_block, parse_tap
from .netenv import staged_paths, suite_env
from .nipa import write_nipa
from .places import place_for

NO_LIMIT_S = 3600  # the lab's own bound on a test whose target sets no timeout (timeout=0)
IGNORE = Path(__file__).resolve().parents[2] / "selftests" / "crash-ignore.txt"
# what a test must leave as it found it (and below); a namespace's peer id (`(id: N)`) is not state a test owns
STATE = "ip -o link show | sed 's/: <.*//'; ip netns list | cut -d' ' -f1"
# kmemleak (kernels built with it: NIPA's debug kernels) scanned twice after each test, as NIPA does, then cleared
KMEMLEAK = "k=/sys/kernel/debug/kmemleak; [ -w $k ] || exit 0; echo scan > $k; echo scan > $k; cat $k; echo clear > $k"


def state_script(links):
    """STATE (links, namespaces), and the features and rings of the lab's NICs in their namespaces."""
    return STATE + "".join(f"; ip netns exec {link.ns(s)} ethtool -k {link.dev(s)} | grep -v fixed; "
                           f"ip netns exec {link.ns(s)} ethtool -g {link.dev(s)}" for link in links for s in "ab")


def last_times(runs_root, suite):
    """{test: seconds} of the newest earlier `lab selftest` run of `suite` under `runs_root` ({} if none)."""
    for manifest in sorted(Path(runs_root).glob("*/manifest.json"), reverse=True):
        try:
            m = json.loads(manifest.read_text())
            if m.get("kind") == "selftest" and m.get("testcase", {}).get("name") == f"selftest:{suite}":
                recs = RunDir(manifest.parent).results()
                return {r["test"]: r["seconds"] for r in recs if isinstance(r.get("seconds"), (int, float))}
        except (OSError, ValueError, KeyError, TypeError, LabError):  # a damaged run dir: the one before it
            continue
    return {}


class SelftestRun:
    """One `lab selftest` run: the tests' queue, the guests taking from it, what is written as each test ends."""

    def __init__(self, rd, place, suite, tests, timeout, ignore, say, cap=None, planned=None):
        self.rd, self.place, self.suite, self.say = rd, place, suite, say
        self.kernel, self.cfg = place.kernel, place.cfg
        self.suite_env = suite_env(suite, self.cfg.links, place.remote)
        self.timeout, self.ignore, self.cap = timeout, ignore, cap
        self.todo = queue.Queue()
        for t in tests:
            self.todo.put(t)
        self.done, self.records = 0, []
        self.lock = threading.Lock()
        self.scaled, self.slow, self.start = None, False, now_iso()
        self.ktap = rd.path / "selftests.ktap"
        self.total = planned or len(tests)
        self.ktap.write_text(f"TAP version 13\n1..{self.total}\n")
        self.progress = Progress(f"selftest {suite}: tests", self.total)

    def worker(self, slot):
        env = None
        try:
            while True:
                try:
                    test = self.todo.get_nowait()
                except queue.Empty:
                    return
                if env is None:
                    env = self.place.open(self.rd, slot, self.say)
                    self.calibrate(env, slot)
                    root = self.place.stage(env, self.rd)
                rec, output, fresh = self.run_test(env, root, test, slot)
                self.finish(rec, output)
                if fresh:  # a crash, a hang or state left behind: the next test gets a new guest
                    env.__exit__(None, None, None)
                    env = None
        finally:
            if env is not None:
                env.__exit__(None, None, None)

    def calibrate(self, env, slot):
        """The first guest up measures the TCG factor and scales the target's timeout in the staged `settings`
        (at most --timeout)."""
        with self.lock:
            if self.scaled is None:
                factor = self.place.factor(env)
                # a target's timeout=0 is none at all (kselftest's runner): --timeout still caps it
                limits = [t for t in (int(self.timeout * factor), self.cap) if t]
                self.scaled, self.slow = min(limits, default=0), factor >= 2
                (self.rd.guest_dir / "kselftest" / self.suite / "settings").write_text(f"timeout={self.scaled}\n")
                self.rd.update_manifest(tcg_factor=factor, test_timeout={"target": self.timeout,
                                                                         "scaled": self.scaled, "cap": self.cap})
                t0, t1 = (f"{t} s" if t else "none" for t in (self.timeout, self.scaled))
                self.say(f"selftest: {self.place.kind} {factor}x slower than this host: each test's timeout "
                         f"{t0} -> {t1}{' (--timeout)' if self.scaled == self.cap else ''}")

    def attempt(self, env, root, test):
        """(TapResult or None, seconds, crash reports, why the guest must be renewed or '')."""
        slow = "KSFT_MACHINE_SLOW=yes && export KSFT_MACHINE_SLOW && " if self.slow else ""
        script = self.suite_env.wrap(f"cd {root}/{self.suite} && BASE_DIR={root} && export BASE_DIR && {slow}"
                                     f". {root}/kselftest/runner.sh && run_many ./{test}")
        t0, crashes, renew, state = time.monotonic(), [], "", state_script(self.cfg.links)
        try:
            before = env.run(["sh", "-c", state], timeout=60, check=False).stdout
            t0 = time.monotonic()
            res = env.run(["sh", "-c", script], timeout=(self.scaled or NO_LIMIT_S) + 120, check=False)
        except GuestCrash as e:
            crashes, res, renew = [e.report], e.result, f"kernel {e.report.kind}"
        except (GuestError, TargetError) as e:  # the backstop timeout, or the guest (host) is gone: the run goes on
            return None, round(time.monotonic() - t0, 2), [], str(e).splitlines()[0][:300]
        if res is None:
            return None, round(time.monotonic() - t0, 2), crashes, renew
        parsed = parse_tap(res.stdout)
        if not renew and env.alive():
            after = env.run(["sh", "-c", state], timeout=60, check=False).stdout
            if after != before:
                renew = "env-check-fail: " + "; ".join(sorted(set(after.splitlines()) ^ set(before.splitlines())))
            crashes += kmemleak_reports(env.run(["sh", "-c", KMEMLEAK], timeout=600, check=False).stdout)
        return (parsed[0] if parsed else None), round(res.elapsed, 2), crashes, renew

    def record(self, test, verdict, seconds, slot, why="", tap=None, crashes=()):
        return {"run_id": self.rd.id, "kind": "selftest", "testcase": f"selftest:{self.suite}", "suite": self.suite,
                "test": test, "params": {"test": test}, "status": verdict, "seconds": seconds, "slot": slot,
                "why": why, "subtests": tap.subtests if tap else [],
                "output_tail": "\n".join((tap.output if tap else [])[-25:]),
                "crashes": [{"kind": c.kind, "headline": c.headline, "fingerprint": fingerprint5(c.lines, self.ignore),
                             "excerpt": c.excerpt[-3000:]} for c in crashes],
                "kernel": {"name": self.kernel.name, "release": self.kernel.release}, "started": now_iso()}

    def run_test(self, env, root, test, slot):
        tap, seconds, crashes, renew = self.attempt(env, root, test)
        verdict = "fail" if crashes or renew.startswith("env-check") else tap.verdict if tap else "fail"
        kinds = ", ".join(sorted({c.kind for c in crashes}))  # a kernel report's kind, unless renew says it
        why = "; ".join(w for w in ((tap.why if tap else ""), renew, "" if kinds in renew else kinds) if w)
        rec = self.record(test, verdict, seconds, slot, why, tap, crashes)
        if verdict == "fail" and not crashes and not renew:  # NIPA's one retry: a pass now is a flaky test
            again, _, crashes2, renew = self.attempt(env, root, test)
            rec["retry"] = again.verdict if again and not crashes2 and not renew else "fail"
            rec["status"] = "flaky" if rec["retry"] == "pass" else "fail"
        return rec, (tap.output if tap else []), bool(renew)

    def finish(self, rec, output=()):
        """Record a test that ended: results.jsonl, its KTAP block (the last 200 lines of its output), nipa.json."""
        with self.lock:
            self.done += 1
            rec["cell"] = self.done
            self.records.append(rec)
            self.rd.append_result(rec)
            with open(self.ktap, "a") as f:
                f.write("\n".join(ktap_block(self.done, self.suite, rec["test"], rec["status"],
                                             list(output), rec["why"])) + "\n")
            write_nipa(self.rd.path / "nipa.json", self.records, executor="dplab", branch=self.kernel.name,
                       start=self.start, end=now_iso())
        note = f" ({rec['why']})" if rec["why"] else ""
        self.say(f"  {rec['cell']:3d} {rec['test']:32s} {rec['status']:5s} {rec['seconds']:7.1f} s{note}")
        self.progress.advance(note=rec["test"])


def stage(rd, selftests, suite, tests):
    """The run dir's guest/kselftest as `make install` lays it out: runner, suite, what its tests import, BPF objects
    (a copy, 14 MB for net: tests may write next to themselves)."""
    staged = rd.guest_dir / "kselftest"
    for d, src in staged_paths(suite).items():
        (staged / d).parent.mkdir(parents=True, exist_ok=True)
        if (selftests / src).is_dir():
            shutil.copytree(selftests / src, staged / d, symlinks=True, dirs_exist_ok=True)
        elif (selftests / src).is_file():
            shutil.copy2(selftests / src, staged / d, follow_symlinks=False)  # a link in the tree stays a link
    (staged / "kselftest-list.txt").write_text("".join(f"{suite}:{t}\n" for t in tests))  # as installed
    (staged / "bpf").mkdir(exist_ok=True)
    for obj in (selftests / "bpf").glob("*.bpf.o"):  # what the suite's scripts load from ../bpf
        shutil.copy(obj, staged / "bpf" / obj.name)


def run_selftests(kernel_spec, spec, source=None, runs_root="runs", accel=None, jobs=None, links=("virtio",),
                  ignore=IGNORE, timeout=None, target=None, hosts=None, say=print):
    """Build and run in guests of `kernel_spec` (or on hardware `target` of `hosts`); returns the RunDir (records
    on disk as each test ends)."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    suite, tests = parse_spec(spec)
    place = place_for(kernel_spec, target, hosts, links, accel, say)
    kernel = place.kernel
    selftests, log = build_selftests(source_for(kernel, source), suite, say=say)
    times = last_times(runs_root, suite)
    tests = sorted(tests or suite_tests(selftests, suite), key=lambda t: -times.get(t, 0))  # longest first
    rd = RunDir.create(runs_root, f"selftest-{suite.replace('/', '-')}")
    shutil.copy(log, rd.path / "selftest-build.log")
    needs = suite_needs(selftests, suite)
    missing = lacking(kernel, needs)
    if missing:  # the failures they cause are the lab's kernel's, not the tests': said before anything runs
        say(f"selftest: {kernel.name} lacks {len(missing)} of the {len(needs)} options {suite}/config asks for: "
            f"{', '.join(missing[:12])}{' ...' if len(missing) > 12 else ''}")
    stage(rd, selftests, suite, tests)
    unbuilt = bpf_needs(selftests, suite, tests)  # a test without its BPF object is a skip naming it, never a fail
    jobs = max(1, min(place.jobs(jobs or os.cpu_count() or 1), len(tests)))
    run = SelftestRun(rd, place, suite, [t for t in tests if t not in unbuilt], suite_timeout(selftests, suite),
                      read_ignore(ignore) if ignore else [], say, cap=timeout, planned=len(tests))
    rd.update_manifest(testcase={"name": f"selftest:{suite}", "path": f"selftest:{spec}", "tests": tests,
                                 "selftests": str(selftests)}, kind="selftest", mode="selftest", status="running",
                       kernel=kernel.describe(), place=place.kind, **place.where, jobs=jobs,
                       order={"by": "last run's seconds", "known": len(times)}, crash_ignore=str(ignore),
                       suite_config={"asks": len(needs), "missing": missing}, bpf_unbuilt=unbuilt,
                       test_env=run.suite_env.describe())
    for t, objs in unbuilt.items():
        run.finish(run.record(t, "skip", 0.0, None, f"needs ../bpf/{', ../bpf/'.join(objs)}: not built (clang and "
                                                    f"bpf/progs sources: selftest-build.log)"))
    with ThreadPoolExecutor(jobs) as ex:
        for f in [ex.submit(run.worker, slot) for slot in range(jobs)]:
            f.result()
    run.progress.close()
    rd.update_manifest(status="ok", ended=now_iso())
    return rd
